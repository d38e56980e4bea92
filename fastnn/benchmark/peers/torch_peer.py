"""PyTorch on the CPU, eager mode, written the way its tutorials train an MLP."""

from __future__ import annotations

import numpy as np

from . import Peer, Unavailable

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as error:
    raise Unavailable(f"{error} (pip install torch)") from None


class TorchPeer(Peer):
    def __init__(self, threads: int) -> None:
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)

    def versions(self) -> dict:
        capability = torch.backends.cpu.get_cpu_capability()
        return {"torch": f"{torch.__version__} (ATen CPU capability {capability})"}

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
            with torch.inference_mode():
                return torch.softmax(model(torch.from_numpy(x)), dim=1).numpy()

        return predict

    def sgemm(self, n: int):
        generator = torch.Generator().manual_seed(0)
        a, b = (torch.rand(n, n, generator=generator) for _ in range(2))
        c = torch.empty(n, n)
        return lambda: torch.mm(a, b, out=c)
