"""A plain vectorised NumPy MLP: the best we know how to write with NumPy alone.

Every buffer (activations, gradients, masks, optimizer state) is allocated once; every
operation writes in place (``out=``); the parameters and their gradients each live in
one flat buffer, so the optimizer is a handful of whole-buffer ufunc calls rather than
a loop over layers. What remains is what NumPy cannot avoid: a separate pass over memory
for each bias add, activation, mask and optimizer term, and a Python call for each.
"""

from __future__ import annotations

import numpy as np

from . import Peer


class NumpyPeer(Peer):
    def __init__(self, threads: int) -> None:
        pass  # OpenBLAS's threads are limited by the worker

    def versions(self) -> dict:
        return {"numpy": np.__version__}

    def trainer(self, weights, optimizer, batch: int):
        return NumpyMLP(weights, batch, optimizer).epoch

    def predictor(self, weights):
        return NumpyMLP(weights, batch=0, optimizer=None).predict

    def sgemm(self, n: int):
        rng = np.random.default_rng(0)
        a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        c = np.empty((n, n), np.float32)
        return lambda: np.matmul(a, b, out=c)


class NumpyMLP:
    """ReLU hidden layers, softmax + cross-entropy head, SGD-momentum or Adam."""

    def __init__(self, weights, batch: int, optimizer, seed: int = 0) -> None:
        self.sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights[::2]]
        self.params, self.W, self.b = _flat([w.astype(np.float32) for w in weights])
        self.grads, self.gW, self.gb = _flat([np.zeros_like(w) for w in self.params_list()])
        self.opt = optimizer
        self.rng = np.random.default_rng(seed)
        self.t = 0
        if optimizer is not None:
            n_states = 1 if optimizer.name == "sgd" else 2
            self.states = [np.zeros_like(self.params) for _ in range(n_states)]
            self.tmp = np.empty_like(self.params)
        widths = self.sizes[1:]
        self.acts = [np.empty((batch, w), np.float32) for w in widths]
        self.deltas = [np.empty((batch, w), np.float32) for w in widths]
        self.masks = [np.empty((batch, w), bool) for w in widths[:-1]]
        self.xbuf = np.empty((batch, self.sizes[0]), np.float32)
        self.ybuf = np.empty(batch, np.int64)
        self.rowmax = np.empty((batch, 1), np.float32)
        self.rowsum = np.empty((batch, 1), np.float32)
        self.rows = np.arange(batch)

    def params_list(self) -> list[np.ndarray]:
        return [array for pair in zip(self.W, self.b) for array in pair]

    # ---------------------------------------------------------------- training

    def epoch(self, X: np.ndarray, y: np.ndarray):
        """One pass of shuffled mini-batches; returns (None, mean loss)."""
        order = self.rng.permutation(X.shape[0])
        batch, total = self.xbuf.shape[0], 0.0
        for start in range(0, X.shape[0], batch):
            idx = order[start : start + batch]
            n = idx.shape[0]
            xb = np.take(X, idx, axis=0, out=self.xbuf[:n])
            yb = np.take(y, idx, out=self.ybuf[:n])
            total += self.step(xb, yb) * n
        return None, total / X.shape[0]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """Forward, loss, backward and one optimizer update on a batch; returns the loss."""
        n = x.shape[0]
        probs = self._forward(x, n)
        loss = self._softmax_cross_entropy(probs, y, n)  # probs now holds dL/dz
        self._backward(x, n)
        self._update()
        return loss

    def _forward(self, x, n: int) -> np.ndarray:
        h = x
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            z = self.acts[i][:n]
            np.matmul(h, w, out=z)
            z += b
            if i < len(self.W) - 1:
                np.maximum(z, 0, out=z)
            h = z
        return h

    def _softmax_cross_entropy(self, z, y, n: int) -> float:
        """Mean cross-entropy of logits z against labels y; z becomes dL/dz in place."""
        rows = self.rows[:n]
        peak, total = self.rowmax[:n], self.rowsum[:n]
        np.max(z, axis=1, keepdims=True, out=peak)
        z -= peak
        picked = z[rows, y]  # the true class's shifted logit (n values)
        np.exp(z, out=z)
        np.sum(z, axis=1, keepdims=True, out=total)
        loss = float(np.log(total).sum() - picked.sum()) / n
        z /= total
        z[rows, y] -= 1
        z *= np.float32(1 / n)
        return loss

    def _backward(self, x, n: int) -> None:
        delta = self.acts[-1][:n]  # dL/dz of the output layer
        for i in range(len(self.W) - 1, -1, -1):
            below = self.acts[i - 1][:n] if i > 0 else x
            np.matmul(below.T, delta, out=self.gW[i])
            np.sum(delta, axis=0, out=self.gb[i])
            if i == 0:
                break
            d_below = self.deltas[i - 1][:n]
            np.matmul(delta, self.W[i].T, out=d_below)
            mask = self.masks[i - 1][:n]
            np.greater(below, 0, out=mask)  # ReLU' from the output: 1 where a > 0
            np.multiply(d_below, mask, out=d_below)  # (10x faster than copyto's where=)
            delta = d_below

    def _update(self) -> None:
        opt, p, g, tmp = self.opt, self.params, self.grads, self.tmp
        self.t += 1
        if opt.name == "sgd":  # v = momentum v - lr g; p += v
            (v,) = self.states
            g *= np.float32(-opt.lr)
            v *= np.float32(opt.momentum)
            v += g
            p += v
            return
        m, v = self.states  # Adam, as Keras: p -= lr_t m / (sqrt(v) + eps)
        m *= np.float32(opt.beta1)
        np.multiply(g, np.float32(1 - opt.beta1), out=tmp)
        m += tmp
        v *= np.float32(opt.beta2)
        np.multiply(g, g, out=tmp)
        tmp *= np.float32(1 - opt.beta2)
        v += tmp
        lr_t = opt.lr * np.sqrt(1 - opt.beta2**self.t) / (1 - opt.beta1**self.t)
        np.sqrt(v, out=tmp)
        tmp += np.float32(opt.eps)
        np.divide(m, tmp, out=tmp)
        tmp *= np.float32(lr_t)
        p -= tmp

    # ---------------------------------------------------------------- inference

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for the rows of x (a new array)."""
        h = x
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            z = h @ w
            z += b
            if i < len(self.W) - 1:
                np.maximum(z, 0, out=z)
            h = z
        h -= h.max(axis=1, keepdims=True)
        np.exp(h, out=h)
        h /= h.sum(axis=1, keepdims=True)
        return h


def _flat(arrays: list[np.ndarray]):
    """One flat float32 buffer holding [W1, b1, W2, b2, ...], and views (Ws, bs) into it."""
    flat = np.concatenate([a.ravel() for a in arrays]).astype(np.float32)
    views, offset = [], 0
    for a in arrays:
        views.append(flat[offset : offset + a.size].reshape(a.shape))
        offset += a.size
    return flat, views[::2], views[1::2]
