"""SPEC §3: the worked examples of the classic introductions, exactly."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_relu_neuron(backend, dtype):
    model = fn.Model([fn.Dense(1, activation="relu")], input_dim=3, backend=backend, dtype=dtype)
    neuron = model.layers[0]
    neuron.W = [[-1.0], [-0.5], [0.5]]
    neuron.b = [1.0]
    assert model.predict([[0.0, 0.5, 1.0]])[0, 0] == 1.25


def test_hand_set_xor_network(backend):
    # h1 = relu(x1 + x2), h2 = relu(x1 + x2 - 1), out = h1 - 2 h2
    model = fn.Model([fn.Dense(2, "relu"), fn.Dense(1)], input_dim=2, backend=backend)
    hidden, out = model.layers
    hidden.W = [[1.0, 1.0], [1.0, 1.0]]
    hidden.b = [0.0, -1.0]
    out.W = [[1.0], [-2.0]]
    out.b = [0.0]
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(model.predict(X)[:, 0], [0, 1, 1, 0])


def test_mse_by_hand():
    assert fn.losses.mse([-1, -1, 0, 2], [1, 2, 0, 3]) == 3.5
    assert fn.metrics.mse([-1, -1, 0, 2], [1, 2, 0, 3]) == 3.5


def test_mse_is_what_evaluate_reports(backend):
    model = fn.Model([fn.Dense(1, use_bias=False)], input_dim=1, backend=backend, dtype="float64")
    model.layers[0].W = [[1.0]]
    model.compile(loss="mse", optimizer="sgd")
    X = np.array([[1.0], [2.0], [0.0], [3.0]])
    assert model.evaluate(X, [-1, -1, 0, 2])["loss"] == 3.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_gradient_descent_step(backend, dtype):
    model = fn.Model([fn.Dense(1, use_bias=False)], input_dim=1, backend=backend, dtype=dtype)
    model.layers[0].W = [[5.0]]
    model.compile(loss="mse", optimizer=fn.optimizers.SGD(lr=0.1))
    (gradient,) = model.gradients([[2.0]], [6.0])
    assert gradient[0, 0] == 16.0
    model.fit([[2.0]], [6.0], epochs=1, batch_size=1, verbose=0)
    assert model.layers[0].W[0, 0] == pytest.approx(3.4, rel=1e-6 if dtype == "float32" else 1e-15)
