"""fastnn itself, on its native (C kernels) or NumPy reference backend, as a user runs it:
``Model.fit`` and ``Model.predict``."""

from __future__ import annotations

import importlib
import time

import numpy as np

import fastnn as fn

from . import NotSupported, Peer, Unavailable


def native(threads: int) -> FastnnPeer:
    if not fn.backends.native_available():
        from fastnn.backends import native as module

        raise Unavailable(f"the native backend did not load: {module.IMPORT_ERROR}")
    fn.set_num_threads(threads)
    return FastnnPeer("native")


def reference(threads: int) -> FastnnPeer:
    return FastnnPeer("numpy")  # its threads are OpenBLAS's, limited by the worker


class _EpochClock(fn.callbacks.Callback):
    """The seconds of the epoch proper: fit's once-per-call input checks are left out."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


class FastnnPeer(Peer):
    def __init__(self, backend: str) -> None:
        self.backend = backend

    def versions(self) -> dict:
        return {"fastnn": fn.__version__}

    def _model(self, weights) -> fn.Model:
        sizes = [w.shape[1] for w in weights[::2]]
        layers = [fn.Dense(units, "relu") for units in sizes[:-1]]
        layers.append(fn.Dense(sizes[-1], "softmax"))
        model = fn.Model(layers, input_dim=weights[0].shape[0], seed=0, backend=self.backend)
        model.set_weights(weights)
        return model

    def trainer(self, weights, optimizer, batch: int):
        model = self._model(weights)
        if optimizer.name == "sgd":
            rule = fn.optimizers.SGD(lr=optimizer.lr, momentum=optimizer.momentum)
        else:
            rule = fn.optimizers.Adam(
                lr=optimizer.lr, beta1=optimizer.beta1, beta2=optimizer.beta2, eps=optimizer.eps
            )
        model.compile(loss="cross_entropy", optimizer=rule)
        clock = _EpochClock()

        def epoch(X, y):
            history = model.fit(X, y, epochs=1, batch_size=batch, verbose=0, callbacks=[clock])
            return clock.seconds, history.history["loss"][-1]

        return epoch

    def predictor(self, weights):
        return self._model(weights).predict

    def sgemm(self, n: int):
        if self.backend != "native":
            raise NotSupported("its products are NumPy's (see the NumPy MLP column)")
        gemm = importlib.import_module("fastnn.backends._native").gemm
        rng = np.random.default_rng(0)
        a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        c = np.empty((n, n), np.float32)
        return lambda: gemm(a, b, out=c)
