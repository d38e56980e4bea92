"""PyTorch on the CPU, eager mode, written the way its tutorials train an MLP; in fp32,
or in bf16 mixed precision the way its automatic-mixed-precision recipe has it:
``torch.autocast("cpu", dtype=torch.bfloat16)`` around the forward pass and the loss,
fp32 master weights, gradients and optimizer state (no gradient scaler: bf16 has fp32's
exponent range). On CPUs with AVX-512 BF16 or AMX, autocast's products run in oneDNN's
bf16 kernels; elsewhere they are emulated, 10-80x slower than fp32 (a W2 step takes
seconds), and no PyTorch user would pick them: the bf16 peer is then unavailable unless
FASTNN_BENCH_EMULATED_BF16 is set in its environment (``fastnn bench`` sets it when
--peers names torch-bf16)."""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ..environment import EMULATED_BF16
from . import NotSupported, Peer, Unavailable

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as error:
    raise Unavailable(f"{error} (pip install torch)") from None


AUTOCAST = {"fp32": None, "bf16": torch.bfloat16}


def _native_bf16() -> bool:
    """Whether oneDNN runs bf16 products in bf16 instructions on this CPU."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class TorchPeer(Peer):
    def __init__(self, threads: int, precision: str = "fp32") -> None:
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        self.precision = precision
        self.dtype = AUTOCAST[precision]
        emulated = self.dtype is torch.bfloat16 and not _native_bf16()
        if emulated and not os.environ.get(EMULATED_BF16):
            raise Unavailable(
                "oneDNN has no bf16 kernels on this CPU (it needs AVX-512 BF16 or AMX), so "
                "autocast's products would run emulated, 10-80x slower than fp32; name "
                "torch-bf16 in --peers to measure it anyway"
            )

    def versions(self) -> dict:
        capability = torch.backends.cpu.get_cpu_capability()
        versions = {"torch": f"{torch.__version__} (ATen CPU capability {capability})"}
        if self.dtype is torch.bfloat16:
            kernels = "yes" if _native_bf16() else "no (emulated)"
            versions["torch bf16"] = f"oneDNN bf16 kernels {kernels}"
        return versions

    def _autocast(self):
        """The mixed-precision region (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=self.dtype)

    def _model(self, weights) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i in range(0, len(weights), 2):
            w, b = weights[i], weights[i + 1]
            linear = nn.Linear(*w.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w.T.copy()))
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear, nn.ReLU()]
        return nn.Sequential(*layers[:-1])  # logits out; the loss applies log-softmax

    def trainer(self, weights, optimizer, batch: int):
        model = self._model(weights)
        if optimizer.name == "sgd":  # torch's momentum form equals Keras's at constant lr
            opt = torch.optim.SGD(model.parameters(), lr=optimizer.lr, momentum=optimizer.momentum)
        else:
            betas = (optimizer.beta1, optimizer.beta2)
            opt = torch.optim.Adam(model.parameters(), optimizer.lr, betas, optimizer.eps)
        generator = torch.Generator().manual_seed(0)

        def epoch(X: np.ndarray, y: np.ndarray):
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)  # views, no copy
            order = torch.randperm(Xt.shape[0], generator=generator)
            total = 0.0
            for start in range(0, Xt.shape[0], batch):
                idx = order[start : start + batch]
                with self._autocast():  # the loss is computed in fp32 even so
                    loss = F.cross_entropy(model(Xt[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * idx.shape[0]
            return None, total / Xt.shape[0]

        return epoch

    def predictor(self, weights):
        model = self._model(weights).eval()

        def predict(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode(), self._autocast():
                probabilities = torch.softmax(model(torch.from_numpy(x)), dim=1)
            return probabilities.float().numpy()  # fp32 out, as the other peers give

        return predict

    def sgemm(self, n: int):
        if self.dtype is not None:
            raise NotSupported("sgemm is the fp32 product (see the PyTorch column)")
        generator = torch.Generator().manual_seed(0)
        a, b = (torch.rand(n, n, generator=generator) for _ in range(2))
        c = torch.empty(n, n)
        return lambda: torch.mm(a, b, out=c)
