"""Analytic gradients against central finite differences, in float64, for every
sensible pairing of hidden activation, output activation and loss."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastnn as fn

HIDDEN = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "softplus", "softmax"]
# (loss, output activation, kind of targets)
HEADS = [
    ("cross_entropy", "softmax", "labels"),
    ("cross_entropy", "softmax", "onehot"),
    ("kl_divergence", "softmax", "distribution"),
    ("binary_cross_entropy", "sigmoid", "binary"),
    ("mse", "linear", "real"),
    ("mse", "sigmoid", "unit"),
    ("mse", "softmax", "onehot"),
    ("mse", "tanh", "real"),
    ("mae", "linear", "real"),
    ("huber", "linear", "real"),
    ("huber", "softplus", "real"),
    ("mse", "relu", "real"),
    ("mse", "elu", "real"),
    ("mse", "gelu", "real"),
    ("mse", "leaky_relu", "real"),
]


def _targets(kind: str, n: int, k: int, rng) -> np.ndarray:
    if kind == "labels":
        return rng.integers(0, k, n)
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, n)]
    if kind == "distribution":
        return rng.dirichlet(np.ones(k), n)
    if kind == "binary":
        return rng.integers(0, 2, (n, k)).astype(float)
    if kind == "unit":
        return rng.uniform(0, 1, (n, k))
    return rng.normal(0, 1, (n, k))


def _model(hidden: str, head: str, loss: str, backend: str, dropout: bool, seed: int):
    # biases drawn away from zero so that no ReLU-like unit sits exactly on its kink
    bias = fn.initializers.normal(0.5)
    layers = [fn.Dense(6, hidden, bias_initializer=bias)]
    if dropout:
        layers.append(fn.Dropout(0.25))
    layers += [
        fn.Dense(
            5, hidden, bias_initializer=bias, kernel_regularizer=fn.regularizers.L1L2(0.01, 0.02)
        ),
        fn.Dense(3, head, bias_initializer=bias),
    ]
    model = fn.Model(layers, input_dim=4, seed=seed, dtype="float64", backend=backend)
    model.compile(loss=loss, optimizer="sgd")
    return model


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("loss", "head", "kind"), HEADS)
def test_gradients_match_finite_differences(hidden, loss, head, kind, backend):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}{loss}{head}{kind}".encode()))
    model = _model(hidden, head, loss, backend, dropout=hidden != "linear", seed=3)
    X = rng.normal(0, 1, (9, 4))
    y = _targets(kind, 9, 3, rng)
    weights = rng.uniform(0.5, 2.0, 9)
    result = fn.gradient_check(model, X, y, sample_weight=weights)
    assert result["passed"], result
    assert set(result) == {"max_rel_error", "passed"}


def test_gradient_check_catches_a_wrong_gradient(backend, monkeypatch):
    """The check itself can fail: break the backend's backward pass and it must say so."""
    model = _model("tanh", "linear", "mse", backend, dropout=False, seed=1)
    impl = model.backend_impl()
    original = type(impl).backward

    def halved(self, net, params, grads, ws, x):
        original(self, net, params, grads, ws, x)
        grads *= 0.5

    monkeypatch.setattr(type(impl), "backward", halved)
    rng = np.random.default_rng(0)
    result = fn.gradient_check(model, rng.normal(size=(5, 4)), rng.normal(size=(5, 3)))
    assert not result["passed"]
    assert result["max_rel_error"] > 0.1


def test_gradients_are_in_get_weights_order(backend):
    model = _model("tanh", "softmax", "cross_entropy", backend, dropout=False, seed=0)
    grads = model.gradients(np.ones((2, 4)), [0, 2])
    assert [g.shape for g in grads] == [w.shape for w in model.get_weights()]


def test_frozen_layers_get_no_gradient_and_do_not_move(backend):
    model = _model("tanh", "softmax", "cross_entropy", backend, dropout=False, seed=0)
    model.layers[0].trainable = False
    before = model.layers[0].W.copy()
    grads = model.gradients(np.ones((2, 4)), [0, 2])
    assert not grads[0].any() and not grads[1].any()
    assert grads[2].any()
    model.fit(np.ones((8, 4)), [0, 1, 2, 0, 1, 2, 0, 1], epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(model.layers[0].W, before)
    assert fn.gradient_check(model, np.ones((3, 4)), [0, 1, 2])["passed"]
