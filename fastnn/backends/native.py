"""The native backend: fastnn's C kernels (csrc/) behind the backend interface.

``NativeBackend`` has the reference backend's methods, arguments and semantics (see
``fastnn.backends.base``); each method is one call into the compiled module
``fastnn.backends._native``, which checks its arrays once and runs C with the GIL
released, and ``session`` returns its ``TrainSession`` (one C call per batch).
``KERNELS`` holds the single kernels by the names of their twins in
``reference.KERNELS``. ``AVAILABLE`` says whether the compiled module could be loaded
(``IMPORT_ERROR`` says why not), so the package works, on the NumPy backend, without a
compiler.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .spec import LossSpec, NetSpec, StepSpec, TrainingBuffers, Workspace

try:
    from . import _native
except ImportError as error:  # not built: the NumPy backend still works
    _native = None
    AVAILABLE = False
    IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    AVAILABLE = True
    IMPORT_ERROR = None


def _module():
    if _native is None:
        raise RuntimeError(f"the native backend is not available ({IMPORT_ERROR})")
    return _native


def info() -> dict:
    """What the kernels run with: SIMD level in use and detected, the bf16 level in use
    and detected (fastnn.precision), OpenMP, threads."""
    native = _module()
    return {
        "simd": native.simd_level(),
        "simd_detected": native.simd_detected(),
        "bf16": native.bf16_level(),
        "bf16_detected": native.bf16_detected(),
        "openmp": native.openmp_enabled(),
        "threads": native.get_num_threads(),
    }


def set_num_threads(n: int) -> None:
    """Threads the kernels use (>= 1; without OpenMP they always use one)."""
    _module().set_num_threads(n)


def get_num_threads() -> int:
    return _module().get_num_threads()


class NativeWorkspace(Workspace):
    """spec.Workspace (the same NumPy buffers, which the Model reads) plus their C view:
    pointers, the GEMM scratch sized for the net's largest product at this batch size,
    and the net's C description, all made once. The buffer lists become tuples: the
    C view points at these arrays, so they must not be replaced."""

    def __init__(self, net: NetSpec, batch: int) -> None:
        super().__init__(net, batch)
        self.acts = tuple(self.acts)
        self.pres = tuple(self.pres)
        self.masks = tuple(self.masks)
        self.deltas = tuple(self.deltas)
        self.native = _module().NetBuffers(net, self)


class NativeBackend:
    """The backend interface on the C kernels (see base.Backend)."""

    name = "native"
    # net_predict tests each chunk of x for NaN/inf as it reaches it (in cache, for
    # free next to the first layer), so Model.predict does not read x once more first.
    predict_checks_finite = True

    def __init__(self) -> None:
        _module()

    def workspace(self, net: NetSpec, batch: int) -> NativeWorkspace:
        return NativeWorkspace(net, batch)

    def session(
        self,
        net: NetSpec,
        loss: LossSpec,
        step_spec: StepSpec,
        buffers: TrainingBuffers,
        batch: int,
        metrics=(),
        *,
        dropout_seed: int = 0,
        segments: np.ndarray | None = None,
    ):
        """A TrainSession over a workspace of its own (see base.Backend.session)."""
        workspace = NativeWorkspace(net, batch)
        return _native.TrainSession(
            net, loss, step_spec, buffers, workspace, metrics, dropout_seed, segments
        )

    def forward(self, net, params, x, ws, training: bool, seed: int, step: int):
        """Run the network on x (n <= ws.batch rows); returns the output rows (a view)."""
        return _native.net_forward(net, params, x, ws, training, seed, step)

    def loss_grad(self, net, loss, params, ws, y, sample_weight=None) -> float:
        """Mean loss of the last forward batch (plus regularization); writes ws.dout."""
        return _native.net_loss_grad(net, loss, params, ws, y, sample_weight)

    def backward(self, net, params, grads, ws, x) -> None:
        """Gradients of the trainable layers into grads, from ws.dout; x is the batch."""
        _native.net_backward(net, params, grads, ws, x)

    def step(self, spec, params, grads, states, segments, lr: float, t: int) -> None:
        """One optimizer update of the trainable segments; t counts steps from 1."""
        _native.step(spec, params, grads, states, segments, lr, t)

    def metric_sum(self, code, out, y) -> float:
        """A training metric's sum over the rows of out (fnn_metric_sum)."""
        return _native.metric_sum(int(code), out, y)

    def predict(self, net, params, x, chunk: int = 256):
        """The network's output for every row of x, `chunk` rows through the whole net at
        a time (so that activations stay in cache); keeps nothing (thread-safe)."""
        return _native.net_predict(net, params, x, chunk)


# ---------------------------------------------------------------- single kernels

# name -> the native binding of the kernel whose NumPy twin is reference.KERNELS[name]
KERNELS = {name: getattr(_native, name) for name in reference.KERNELS} if AVAILABLE else {}

# The one instance fastnn.backends hands out (it holds no state of its own).
BACKEND = NativeBackend() if AVAILABLE else None
