"""fit's training loop (fastnn/training.py): one backend call per batch, nothing
allocated per batch, the same training on both backends, divergence without a step."""

from __future__ import annotations

import tracemalloc
from collections import Counter

import numpy as np
import pytest

import fastnn as fn
from fastnn import backends


def _data(n=300, features=6, classes=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(0, 0.6, (n, features)) + np.eye(classes, features)[y] * 2
    return X.astype(dtype), y, rng.random(n).astype(dtype)


def _model(backend, optimizer, dtype="float32", frozen=False, input_dim=6):
    model = fn.Model(
        [
            fn.Dense(24, "relu", kernel_regularizer=fn.regularizers.L2(1e-3)),
            fn.Dropout(0.2),
            fn.Dense(12, "tanh"),
            fn.Dense(3, "softmax"),
        ],
        input_dim=input_dim,
        seed=4,
        dtype=dtype,
        backend=backend,
    )
    if frozen:
        model.layers[2].trainable = False
    model.compile("cross_entropy", optimizer, metrics=["accuracy", "mse", "mae"])
    return model


OPTIMIZERS = {
    "adam": lambda: fn.optimizers.Adam(0.01),
    "momentum+clipnorm": lambda: fn.optimizers.SGD(0.05, momentum=0.9, clipnorm=0.5),
    "rmsprop": lambda: fn.optimizers.RMSprop(0.005),
}


@pytest.mark.skipif(not backends.native_available(), reason="the native backend did not build")
@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_fit_trains_alike_on_both_backends(optimizer, frozen):
    """Shuffled batches, Dropout, sample weights, a regularizer, validation and every
    metric: the histories and weights of the two backends agree (float64)."""
    X, y, w = _data(dtype=np.float64)
    runs = []
    for backend in ("numpy", "native"):
        model = _model(backend, OPTIMIZERS[optimizer](), "float64", frozen)
        history = model.fit(
            X, y, epochs=3, batch_size=32, sample_weight=w, validation_split=0.2, verbose=0
        )
        runs.append((history.history, model.get_weights()))
    (ref_history, ref_weights), (history, weights) = runs
    assert history.keys() == ref_history.keys()
    for key, values in ref_history.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-9, err_msg=key)
    for got, expected in zip(weights, ref_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-12)


class _Spy:
    """A backend that counts the calls made to it by name."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, Counter()

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted


class _SessionSpy(_Spy):
    """A backend spy whose sessions are spies too (their calls in `session_calls`)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.session_calls = Counter()

    def session(self, *args, **kwargs):
        self.calls["session"] += 1
        session = _Spy(self.inner.session(*args, **kwargs))
        self.session_calls = session.calls
        return session


def test_fit_makes_one_backend_call_per_batch(backend, monkeypatch):
    """One session per fit (bound to the data once), then one call per batch."""
    X, y, _ = _data(100)
    model = _model(backend, fn.optimizers.Adam())
    spy = _SessionSpy(model.backend_impl())
    monkeypatch.setattr(model, "backend_impl", lambda: spy)
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert spy.calls == {"session": 1}
    assert spy.session_calls == {
        "bind_data": 1,
        "reset_totals": 2,
        "train_step": 2 * 7,
        "release_data": 1,
    }
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)  # the same session again
    assert spy.calls == {"session": 1} and spy.session_calls["train_step"] == 3 * 7


class _MemoryPerBatch(fn.callbacks.Callback):
    """tracemalloc's current size after every batch, and its peak since the last one."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.current = np.zeros(batches, np.int64)
        self.excess = np.zeros(batches, np.int64)
        self.index = 0

    def on_batch_end(self, batch, logs=None):
        current, peak = tracemalloc.get_traced_memory()
        self.current[self.index] = current
        self.excess[self.index] = peak - current
        self.index += 1
        tracemalloc.reset_peak()


@pytest.mark.skipif(not backends.native_available(), reason="the native backend did not build")
@pytest.mark.parametrize("shuffle", [True, False])
def test_fit_allocates_nothing_per_batch(shuffle):
    """Through Model.fit (metrics, sample weights, Dropout, shuffled rows): after the
    first batch, memory does not grow from batch to batch, and no batch allocates more
    than a few small Python objects (a gathered batch alone would be 12 KB)."""
    X, y, w = _data(2000, features=48)
    model = _model("native", fn.optimizers.Adam(), input_dim=48)
    model.fit(X, y, epochs=1, batch_size=64, sample_weight=w, verbose=0)  # warm-up
    batches = 2 * -(-len(X) // 64)
    probe = _MemoryPerBatch(batches)
    tracemalloc.start()
    try:
        model.fit(
            X, y, epochs=2, batch_size=64, sample_weight=w, shuffle=shuffle, verbose=0,
            callbacks=[probe],
        )  # fmt: skip
    finally:
        tracemalloc.stop()
    assert probe.index == batches
    per_epoch = batches // 2
    for epoch in range(2):
        seen = probe.current[epoch * per_epoch + 1 : (epoch + 1) * per_epoch]
        assert seen.max() - seen.min() <= 256, f"epoch {epoch}: grew by {np.ptp(seen)} bytes"
        excess = probe.excess[epoch * per_epoch + 1 : (epoch + 1) * per_epoch]
        assert excess.max() <= 2048, f"epoch {epoch}: a batch peaked {excess.max()} bytes"


def test_divergence_keeps_the_weights_of_the_last_finite_step(backend):
    """The step whose loss is not finite updates nothing: after the warning the model
    holds exactly the weights the previous batch ended with."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 3.0], np.float32)) * 1e3
    model = fn.Model([fn.Dense(8, "relu"), fn.Dense(1)], input_dim=3, seed=0, backend=backend)
    model.compile("mse", fn.optimizers.SGD(lr=0.5))

    class Keep(fn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            self.weights = [w.copy() for w in self.model.get_weights()]
            self.iterations = self.model.optimizer.iterations

    keep = Keep()
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(X, y, epochs=50, batch_size=4, verbose=0, callbacks=[keep])
    assert model.optimizer.iterations == keep.iterations
    if all(np.isfinite(w).all() for w in keep.weights):
        for got, expected in zip(model.get_weights(), keep.weights):
            assert np.array_equal(got, expected)
