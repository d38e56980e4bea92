"""The libraries fastnn is compared with, each behind the same three operations.

A peer is created inside its own worker process, after the thread limits are in place,
and offers:

* ``trainer(weights, optimizer, batch)`` -> ``epoch(X, y)``, one pass of shuffled
  mini-batches over (X, y) returning ``(seconds or None, mean loss)`` (None: the caller
  times the call);
* ``predictor(weights)`` -> ``predict(x)``, class probabilities for the rows of x;
* ``sgemm(n)`` -> ``run()``, C = A B for square float32 matrices of order n.

An operation a peer cannot do raises ``NotSupported`` saying why (the table shows it);
a peer whose library is missing raises ``Unavailable`` when created. Peer modules are
imported only in their worker, so torch, jax, ... are never imported together.

A library's variants (fp32 or bf16 mixed precision, an int8-quantized model) are one
peer class with one parameter, listed as separate columns: each runs in its own
process like any other peer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


class Unavailable(Exception):
    """The peer's library cannot be used here (not installed, failed to load)."""


class NotSupported(Exception):
    """The peer does not do this operation (e.g. training for an inference runtime)."""


class Peer:
    """Base class: every operation unsupported until a subclass says otherwise."""

    def versions(self) -> dict:
        """Library versions and build facts worth printing beside the numbers."""
        return {}

    def trainer(self, weights, optimizer, batch: int):
        raise NotSupported("does not train")

    def predictor(self, weights):
        raise NotSupported("does not predict")

    def sgemm(self, n: int):
        raise NotSupported("no GEMM of its own")


@dataclass(frozen=True)
class PeerInfo:
    name: str  # as given to --peers
    label: str  # the column title
    module: str  # relative to this package
    factory: str  # callable(threads, **options) -> Peer
    install: str  # how to get it, for the "skipped" note
    options: dict = field(default_factory=dict)  # the variant: precision, quantization


ORT = "pip install onnx onnxruntime"
PEERS = (
    PeerInfo("fastnn-native", "fastnn native", "fastnn_peer", "native", "build fastnn's C kernels"),
    PeerInfo(
        "fastnn-bf16", "fastnn bf16", "fastnn_peer", "native", "a fastnn with bf16 mixed precision",
        {"precision": "bf16"},
    ),
    PeerInfo("fastnn-numpy", "fastnn numpy", "fastnn_peer", "reference", "(always there)"),
    PeerInfo("numpy", "NumPy MLP", "numpy_mlp", "NumpyPeer", "(always there)"),
    PeerInfo("torch", "PyTorch", "torch_peer", "TorchPeer", "pip install torch"),
    PeerInfo(
        "torch-bf16", "PyTorch bf16", "torch_peer", "TorchPeer", "pip install torch",
        {"precision": "bf16"},
    ),
    PeerInfo("jax", "JAX (jit)", "jax_peer", "JaxPeer", "pip install jax jaxlib"),
    PeerInfo("onnxruntime", "onnxruntime", "onnx_peer", "OnnxPeer", ORT),
    PeerInfo(
        "onnxruntime-int8", "onnxruntime int8", "onnx_peer", "OnnxPeer", ORT,
        {"quantization": "int8"},
    ),
    PeerInfo("sklearn", "scikit-learn", "sklearn_peer", "SklearnPeer", "pip install scikit-learn"),
)  # fmt: skip
PEER_BY_NAME = {info.name: info for info in PEERS}


def create(name: str, threads: int) -> Peer:
    """The peer called ``name``, limited to ``threads`` threads; raises Unavailable."""
    info = PEER_BY_NAME[name]
    try:
        module = importlib.import_module(f"{__name__}.{info.module}")
    except ImportError as error:
        raise Unavailable(f"{error} ({info.install})") from None
    return getattr(module, info.factory)(threads, **info.options)


def parse_peers(text: str) -> tuple[str, ...]:
    """Names from "torch,numpy", in table order; ValueError for unknown ones."""
    names = {p.strip().lower() for p in text.split(",") if p.strip()}
    unknown = sorted(names - set(PEER_BY_NAME))
    if unknown or not names:
        raise ValueError(
            f"unknown peer(s) {', '.join(unknown) or repr(text)}; expected a comma-separated "
            f"subset of {','.join(PEER_BY_NAME)}"
        )
    return tuple(info.name for info in PEERS if info.name in names)
