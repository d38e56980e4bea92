"""Learning works: XOR, the spiral, the embedded digits and Fashion-MNIST."""

from __future__ import annotations

import time

import numpy as np
import pytest

import fastnn as fn

FASHION = "/usr/share/datasets/fashion-mnist"


def test_xor_learned_to_100_percent(backend):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    model = fn.Model([fn.Dense(8, "tanh"), fn.Dense(1, "sigmoid")], seed=0, backend=backend)
    model.compile(
        loss="binary_cross_entropy", optimizer=fn.optimizers.Adam(lr=0.05), metrics=["accuracy"]
    )
    model.fit(X, y, epochs=300, batch_size=4, verbose=0)
    assert model.evaluate(X, y)["accuracy"] == 1.0
    np.testing.assert_array_equal(model.predict_classes(X), y)


def test_spiral_three_classes(backend):
    X, y = fn.datasets.make_spiral(300, n_classes=3, seed=0)
    model = fn.Model(
        [fn.Dense(64, "relu"), fn.Dense(64, "relu"), fn.Dense(3, "softmax")],
        seed=0,
        backend=backend,
    )
    model.compile(loss="cross_entropy", optimizer=fn.optimizers.Adam(lr=0.01), metrics=["accuracy"])
    model.fit(X, y, epochs=200, batch_size=32, verbose=0)
    assert model.evaluate(X, y)["accuracy"] >= 0.95


def test_embedded_default_dataset(backend):
    (X, y), (X_test, y_test) = fn.datasets.load_default()
    model = fn.Model([fn.Dense(64, "relu"), fn.Dense(10, "softmax")], seed=0, backend=backend)
    model.compile(loss="cross_entropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, y, epochs=40, batch_size=32, verbose=0)
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.95


@pytest.mark.slow
def test_fashion_mnist_784_256_128_10():
    """The reference point of the data set's README (256-128-100 MLP: 0.8833)."""
    try:
        (X, y), (X_test, y_test) = fn.datasets.load_fashion_mnist()
    except FileNotFoundError as missing:
        pytest.skip(
            f"Fashion-MNIST is not installed ({missing}); apt-get install dataset-fashion-mnist"
        )
    model = fn.Model(
        [fn.Dense(256, "relu"), fn.Dense(128, "relu"), fn.Dense(10, "softmax")], seed=0
    )
    model.compile(loss="cross_entropy", optimizer=fn.optimizers.Adam(lr=1e-3), metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(X, y, epochs=10, batch_size=128, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(
        f"Fashion-MNIST test accuracy {accuracy:.4f} after 10 epochs in {seconds:.1f} s "
        f"({model.backend} backend)"
    )
    assert accuracy >= 0.88


def test_target_loss_stops_early(backend):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    model = fn.Model([fn.Dense(8, "tanh"), fn.Dense(1, "sigmoid")], seed=0, backend=backend)
    model.compile(loss="binary_cross_entropy", optimizer=fn.optimizers.Adam(lr=0.05))
    history = model.fit(X, [0, 1, 1, 0], epochs=1000, batch_size=4, verbose=0, target_loss=0.1)
    assert history.history["loss"][-1] < 0.1
    assert all(loss >= 0.1 for loss in history.history["loss"][:-1])
    assert len(history.epoch) < 1000


def test_batch_size_one_and_full_batch(backend):
    X, y = fn.datasets.make_gaussians(64, n_classes=2, seed=1)
    for batch in (1, 64, 1000):
        model = fn.Model([fn.Dense(1, "sigmoid")], seed=0, backend=backend)
        model.compile(
            loss="binary_cross_entropy", optimizer=fn.optimizers.SGD(lr=0.1), metrics=["accuracy"]
        )
        history = model.fit(X, y, epochs=20, batch_size=batch, verbose=0)
        assert model.optimizer.iterations == 20 * -(-64 // min(batch, 64))
        assert history.history["loss"][-1] < history.history["loss"][0]
