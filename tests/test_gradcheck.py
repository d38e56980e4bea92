"""fn.gradient_check: analytic gradients against central finite differences, in float64.

The check must pass on every activation x loss pair for random shapes and data
(hypothesis), including data that put units exactly on a kink (ReLU at 0, MAE at
residual 0), and must fail when a backend returns a wrong gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn as fn
from fastnn.backends import reference
from fastnn.backends.spec import Act

# every activation with a gradient (step has none: it trains with fn.Perceptron)
ACTIVATIONS = [name for name in fn.activations.NAMES if name != "step"]
# the output activation a loss requires (regression losses take any)
REQUIRED_HEAD = {"cross_entropy": "softmax", "kl_divergence": "softmax"}
REQUIRED_HEAD["binary_cross_entropy"] = "sigmoid"
LOSSES = list(fn.losses.NAMES)
PAIRS = [(activation, loss) for activation in ACTIVATIONS for loss in LOSSES]


def _targets(loss: str, n: int, k: int, rng, kind: int) -> np.ndarray:
    """Targets a user would give this loss; `kind` picks between the accepted forms."""
    if loss == "cross_entropy":
        labels = rng.integers(0, k, n)
        return labels if kind % 2 else np.eye(k)[labels]
    if loss == "kl_divergence":
        return rng.dirichlet(np.ones(k), n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, k)).astype(float) if kind % 2 else rng.uniform(0, 1, (n, k))
    return rng.normal(0, 1 + 2 * kind, (n, k))


def _model(layers, input_dim, backend, seed=0, loss="mse"):
    model = fn.Model(layers, input_dim=input_dim, seed=seed, dtype="float64", backend=backend)
    model.compile(loss=loss, optimizer="sgd")
    return model


@st.composite
def _networks(draw, activation: str, loss: str):
    """(layers, input_dim, X, y, sample_weight): random widths, depth, Dropout,
    regularization and data, some rows exactly zero (units then sit on their bias)."""
    head = REQUIRED_HEAD.get(loss, activation)
    n_in = draw(st.integers(1, 6))
    # softmax over one unit is a constant (fastnn refuses it)
    widths = draw(
        st.lists(st.integers(2 if activation == "softmax" else 1, 7), min_size=1, max_size=2)
    )
    k = draw(st.integers(2 if head == "softmax" else 1, 4))
    bias = fn.initializers.normal(draw(st.sampled_from([0.0, 0.5])))
    penalty = draw(st.sampled_from([None, fn.regularizers.L1L2(0.01, 0.02)]))
    layers = []
    for width in widths:
        layers.append(
            fn.Dense(width, activation, bias_initializer=bias, kernel_regularizer=penalty)
        )
        if draw(st.booleans()):
            layers.append(fn.Dropout(draw(st.sampled_from([0.2, 0.5]))))
    layers.append(fn.Dense(k, head, bias_initializer=bias))
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(0, draw(st.sampled_from([0.1, 1.0, 3.0])), (n, n_in))
    X[rng.random(n) < draw(st.sampled_from([0.0, 0.3]))] = 0.0
    y = _targets(loss, n, k, rng, draw(st.integers(0, 3)))
    weight = rng.uniform(0.5, 2.0, n) if draw(st.booleans()) else None
    return layers, n_in, X, y, weight


@pytest.mark.parametrize(("activation", "loss"), PAIRS)
def test_gradient_check_passes_on_every_activation_and_loss(activation, loss, backend):
    @settings(
        max_examples=5,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=_networks(activation, loss), seed=st.integers(0, 1000))
    def check(case, seed):
        layers, n_in, X, y, weight = case
        model = _model(layers, n_in, backend, seed=seed, loss=loss)
        result = fn.gradient_check(model, X, y, sample_weight=weight)
        assert result["passed"], result
        assert result["max_rel_error"] <= 1e-5
        assert 0 <= result["n_skipped"] < result["n_probed"] == model.count_params()

    check()


@pytest.mark.parametrize("seed", [0, 4])
def test_mae_with_a_gradient_that_is_zero_passes(backend, seed):
    """The reported false failure: float64 5-4-3, tanh hidden, linear head, MAE, random
    normal data. An output bias whose residual signs balance has gradient 0 (analytic
    ~1e-18, numeric ~1e-12 of rounding): a relative error alone calls that a failure."""
    rng = np.random.default_rng(seed)
    model = _model([fn.Dense(4, "tanh"), fn.Dense(3)], 5, backend, seed=seed, loss="mae")
    X, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 3))
    output_bias = model.gradients(X, y)[-1]
    assert np.abs(output_bias).min() < 1e-15  # the case that used to fail
    result = fn.gradient_check(model, X, y)
    assert result["passed"], result
    assert result["n_skipped"] == 0 and result["n_probed"] == 39


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_a_unit_exactly_on_its_kink_is_skipped_and_counted(activation, backend):
    """A row of zeros puts every hidden unit at z = b = 0: each hidden bias sits on the
    kink, where no finite difference can check the one-sided analytic derivative."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 4))
    X[0] = 0.0
    model = _model([fn.Dense(3, activation), fn.Dense(2)], 4, backend, seed=1)
    result = fn.gradient_check(model, X, rng.normal(size=(6, 2)))
    assert result["passed"], result
    assert result["n_skipped"] == 3 and result["n_probed"] == model.count_params()


@pytest.mark.parametrize("offset", [3e-6, -3e-6])
def test_a_kink_near_the_point_is_checked_at_a_smaller_step(offset, backend):
    """z = 3e-6 lies within the default step 1e-5 of the kink: the central difference
    straddles it, the second probe at 1e-6 does not, so nothing is skipped."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 4))
    X[0] = 0.0
    model = _model([fn.Dense(3, "relu"), fn.Dense(2)], 4, backend, seed=1)
    model.layers[0].b = np.full(3, offset)
    result = fn.gradient_check(model, X, rng.normal(size=(6, 2)))
    assert result["passed"], result
    assert result["n_skipped"] == 0


def test_mae_and_huber_at_their_kinks_pass(backend):
    """Residuals exactly 0 (MAE) and exactly delta (Huber) on half the rows."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 4))
    for loss, shift in (("mae", 0.0), ("huber", 1.0)):
        model = _model([fn.Dense(3, "tanh"), fn.Dense(2)], 4, backend, seed=2, loss=loss)
        y = model.predict(X)
        y[:3] += shift
        result = fn.gradient_check(model, X, y)
        assert result["passed"], (loss, result)


def test_nothing_verified_is_not_a_pass(backend):
    """Every trainable parameter on a ReLU kink (W = 0, b = 0): all are skipped, and a
    check that verified nothing does not report success."""
    model = _model([fn.Dense(1, "relu", kernel_initializer="zeros"), fn.Dense(1)], 1, backend)
    model.layers[1].W = [[1.0]]
    model.layers[1].trainable = False
    result = fn.gradient_check(model, [[1.0], [2.0]], [1.0, 1.0])
    assert result["n_skipped"] == result["n_probed"] == 2
    assert not result["passed"]


# ---------------------------------------------------------------- wrong gradients fail


def _wrong_gradient_case(backend, loss="mse", hidden="tanh"):
    rng = np.random.default_rng(0)
    model = _model([fn.Dense(5, hidden), fn.Dense(3)], 4, backend, seed=1, loss=loss)
    return model, rng.normal(size=(7, 4)), rng.normal(size=(7, 3))


def _patch_backward(monkeypatch, model, spoil):
    impl = model.backend_impl()
    original = type(impl).backward

    def spoiled(self, net, params, grads, ws, x):
        original(self, net, params, grads, ws, x)
        spoil(grads)

    monkeypatch.setattr(type(impl), "backward", spoiled)


def test_a_halved_gradient_fails(backend, monkeypatch):
    model, X, y = _wrong_gradient_case(backend)
    _patch_backward(monkeypatch, model, lambda grads: grads.__imul__(0.5))
    result = fn.gradient_check(model, X, y)
    assert not result["passed"]
    assert result["max_rel_error"] > 0.3 and result["n_skipped"] == 0


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_one_parameter_wrong_by_a_tenth_of_a_percent_fails(backend, monkeypatch, loss):
    model, X, y = _wrong_gradient_case(backend, loss=loss)
    index = model.layers[0].W.size + 2  # the third hidden bias

    def spoil(grads):
        grads[index] *= 1.001

    _patch_backward(monkeypatch, model, spoil)
    result = fn.gradient_check(model, X, y)
    assert not result["passed"], result
    assert 5e-4 < result["max_rel_error"] < 2e-3


def test_a_wrong_activation_derivative_fails(monkeypatch):
    """The NumPy backend computing tanh' as 1 - a instead of 1 - a^2: a wrong
    backpropagation, not a patched result."""

    def wrong_tanh(a, z, da, param=0.0):
        return da * (1 - a)

    monkeypatch.setitem(reference.DERIVATIVES, Act.TANH, wrong_tanh)
    model, X, y = _wrong_gradient_case("numpy")
    result = fn.gradient_check(model, X, y)
    assert not result["passed"]
    assert result["max_rel_error"] > 0.01


def test_a_wrong_gradient_beside_a_kink_still_fails(backend, monkeypatch):
    """Kinks are skipped, the wrong gradients of the other parameters are not."""
    model, X, y = _wrong_gradient_case(backend, hidden="relu")
    X[0] = 0.0
    model.layers[0].b = np.zeros(5)
    _patch_backward(monkeypatch, model, lambda grads: grads.__imul__(1.01))
    result = fn.gradient_check(model, X, y)
    assert not result["passed"]


# ---------------------------------------------------------------- the interface


def test_result_and_arguments(backend):
    model, X, y = _wrong_gradient_case(backend)
    result = fn.gradient_check(model, X, y, max_params=10)
    assert set(result) == {"max_rel_error", "passed", "max_abs_error", "n_probed", "n_skipped"}
    assert result["n_probed"] == 10 and result["passed"] is True
    assert isinstance(result["max_rel_error"], float)
    for name, value in (("eps", 0.0), ("rtol", -1.0), ("atol", -1e-9), ("max_params", 0)):
        with pytest.raises(ValueError, match=name):
            fn.gradient_check(model, X, y, **{name: value})
    with pytest.warns(DeprecationWarning, match="rtol"):
        assert fn.gradient_check(model, X, y, tolerance=1e-5)["passed"]


def test_an_uncompiled_model_is_refused():
    model = fn.Model([fn.Dense(2)], input_dim=3, dtype="float64")
    with pytest.raises(RuntimeError, match="compile"):
        fn.gradient_check(model, np.ones((2, 3)), np.ones((2, 2)))


def test_gradients_are_in_get_weights_order(backend):
    model = _model([fn.Dense(6, "tanh"), fn.Dense(3, "softmax")], 4, backend, loss="ce")
    grads = model.gradients(np.ones((2, 4)), [0, 2])
    assert [g.shape for g in grads] == [w.shape for w in model.get_weights()]


def test_frozen_layers_get_no_gradient_and_do_not_move(backend):
    model = _model(
        [fn.Dense(6, "tanh"), fn.Dense(5, "tanh"), fn.Dense(3, "softmax")], 4, backend, loss="ce"
    )
    model.layers[0].trainable = False
    before = model.layers[0].W.copy()
    grads = model.gradients(np.ones((2, 4)), [0, 2])
    assert not grads[0].any() and not grads[1].any()
    assert grads[2].any()
    model.fit(np.ones((8, 4)), [0, 1, 2, 0, 1, 2, 0, 1], epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(model.layers[0].W, before)
    result = fn.gradient_check(model, np.ones((3, 4)), [0, 1, 2])
    assert result["passed"] and result["n_probed"] == (6 * 5 + 5) + (5 * 3 + 3)
