"""fastnn itself, on its native (C kernels) or NumPy reference backend, in fp32 or bf16
mixed precision, as a user runs it: ``Model.fit`` and ``Model.predict``."""

from __future__ import annotations

import importlib
import inspect
import time

import numpy as np

import fastnn as fn

from . import NotSupported, Peer, Unavailable

# The precision switch: fastnn's name for bf16 mixed precision, and where it is given
# (the Model's constructor, or else compile). One place to follow the API.
PRECISION_ARGUMENT = "precision"
PRECISION_NAMES = {"fp32": None, "bf16": "bf16"}  # None: leave the argument out


def precision_switch() -> str | None:
    """Where this fastnn takes ``precision=``: "Model", "compile", or None (no switch)."""
    if PRECISION_ARGUMENT in inspect.signature(fn.Model).parameters:
        return "Model"
    if PRECISION_ARGUMENT in inspect.signature(fn.Model.compile).parameters:
        return "compile"
    return None


def native(threads: int, precision: str = "fp32") -> FastnnPeer:
    if not fn.backends.native_available():
        from fastnn.backends import native as module

        raise Unavailable(f"the native backend did not load: {module.IMPORT_ERROR}")
    if PRECISION_NAMES[precision] is not None and precision_switch() is None:
        raise Unavailable(
            f"this fastnn ({fn.__version__}) has no {precision} switch: neither Model(...) "
            f"nor compile(...) takes {PRECISION_ARGUMENT}="
        )
    fn.set_num_threads(threads)
    return FastnnPeer("native", precision)


def reference(threads: int) -> FastnnPeer:
    return FastnnPeer("numpy")  # its threads are OpenBLAS's, limited by the worker


class _EpochClock(fn.callbacks.Callback):
    """The seconds of the epoch proper: fit's once-per-call input checks are left out."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


class FastnnPeer(Peer):
    def __init__(self, backend: str, precision: str = "fp32") -> None:
        self.backend = backend
        self.precision = precision
        name = PRECISION_NAMES[precision]
        self.switch = {} if name is None else {PRECISION_ARGUMENT: name}

    def versions(self) -> dict:
        return {"fastnn": fn.__version__}

    def _model(self, weights) -> fn.Model:
        sizes = [w.shape[1] for w in weights[::2]]
        layers = [fn.Dense(units, "relu") for units in sizes[:-1]]
        layers.append(fn.Dense(sizes[-1], "softmax"))
        options = self.switch if precision_switch() == "Model" else {}
        model = fn.Model(
            layers, input_dim=weights[0].shape[0], seed=0, backend=self.backend, **options
        )
        model.set_weights(weights)
        return model

    def _compile(self, model: fn.Model, **options) -> None:
        if precision_switch() == "compile":
            options.update(self.switch)
        model.compile(**options)

    def trainer(self, weights, optimizer, batch: int):
        model = self._model(weights)
        if optimizer.name == "sgd":
            rule = fn.optimizers.SGD(lr=optimizer.lr, momentum=optimizer.momentum)
        else:
            rule = fn.optimizers.Adam(
                lr=optimizer.lr, beta1=optimizer.beta1, beta2=optimizer.beta2, eps=optimizer.eps
            )
        self._compile(model, loss="cross_entropy", optimizer=rule)
        clock = _EpochClock()

        def epoch(X, y):
            history = model.fit(X, y, epochs=1, batch_size=batch, verbose=0, callbacks=[clock])
            return clock.seconds, history.history["loss"][-1]

        return epoch

    def predictor(self, weights):
        model = self._model(weights)
        if self.switch and precision_switch() == "compile":
            self._compile(model, loss="cross_entropy")
        return model.predict

    def sgemm(self, n: int):
        if self.backend != "native":
            raise NotSupported("its products are NumPy's (see the NumPy MLP column)")
        if self.switch:
            raise NotSupported("sgemm is the fp32 product (see the fastnn native column)")
        gemm = importlib.import_module("fastnn.backends._native").gemm
        rng = np.random.default_rng(0)
        a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        c = np.empty((n, n), np.float32)
        return lambda: gemm(a, b, out=c)
