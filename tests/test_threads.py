"""Models used from several Python threads at once.

Native only so far: changing the thread count from another thread in the middle of a
fit changes nothing (the GEMM scratch is sized for a thread count that may be stale by
the time a kernel runs).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import BACKENDS

import fastnn as fn

native_only = pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")


def _data(n, n_in, n_classes=4, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)).astype(dtype)
    y = (X[:, :n_classes] * np.arange(1, n_classes + 1)).argmax(axis=1)
    return X, y


def _model(backend, n_in, hidden=(32,), optimizer="adam", seed=0, dropout=0.0, dtype="float32"):
    layers = []
    for units in hidden:
        layers.append(fn.Dense(units, "relu"))
        if dropout:
            layers.append(fn.Dropout(dropout))
    layers.append(fn.Dense(4, "softmax"))
    model = fn.Model(layers, input_dim=n_in, seed=seed, backend=backend, dtype=dtype)
    model.compile(loss="cross_entropy", optimizer=optimizer, metrics=["accuracy"])
    return model


@pytest.fixture
def restore_threads():
    if "native" not in BACKENDS:
        yield
        return
    before = fn.get_num_threads()
    yield
    fn.set_num_threads(before)


# ------------------------------------------------------------------ the thread count


@native_only
def test_thread_count_changed_during_fit(restore_threads):
    """Another thread flips the kernels' thread count between 1 and 8 as fast as it can
    while a model trains (shapes that take the GEMM's packed path, whose scratch is
    per thread). The thread count never changes results, so the weights must be the
    same bits as an undisturbed fit, and nothing may be written past the scratch (the
    bug this test was written for: a heap overflow, found by tools/sanitize.sh)."""
    X, y = _data(512, 200)

    def fit():
        model = _model("native", 200, hidden=(256,), seed=5)
        model.fit(X, y, epochs=40, batch_size=128, verbose=0)
        return model.params.copy()

    stop = threading.Event()

    def flip():
        while not stop.is_set():
            fn.set_num_threads(8)
            fn.set_num_threads(1)

    fn.set_num_threads(1)  # workspaces are sized for one thread
    want = fit()
    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        got = fit()
    finally:
        stop.set()
        flipper.join()
    assert np.array_equal(got, want)
