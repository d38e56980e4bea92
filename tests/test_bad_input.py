"""SPEC §6: every bad input gets a ValueError/TypeError naming what was wrong."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastnn as fn


@pytest.fixture
def model(backend):
    m = fn.Model(
        [fn.Dense(4, "relu"), fn.Dense(3, "softmax")], input_dim=5, seed=0, backend=backend
    )
    m.compile(loss="cross_entropy", optimizer="adam", metrics=["accuracy"])
    return m


X_GOOD = np.zeros((6, 5))
Y_GOOD = np.array([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize(
    ("X", "error", "message"),
    [
        (np.zeros((6, 4)), ValueError, "4 features per sample but the model expects 5"),
        (np.zeros(5), ValueError, r"2-D .*reshape\(1, -1\)"),
        (np.zeros((6, 5, 1)), ValueError, "3-D"),
        (np.zeros((0, 5)), ValueError, "empty"),
        (np.full((6, 5), np.nan), ValueError, "NaN or infinite"),
        (np.full((6, 5), np.inf), ValueError, "NaN or infinite"),
        (np.full((6, 5), 1e300), ValueError, "as float32"),
        (np.array([["a"] * 5] * 6), TypeError, "real numbers"),
        (np.zeros((6, 5), complex), TypeError, "real numbers"),
        (None, TypeError, "None"),
        ([[1, 2], [3]], ValueError, "could not be read"),
    ],
    ids=[
        "width",
        "1-D",
        "3-D",
        "empty",
        "nan",
        "inf",
        "overflow",
        "strings",
        "complex",
        "none",
        "ragged",
    ],
)
def test_bad_features(model, X, error, message):
    if message == "as float32" and model.dtype != np.float32:
        pytest.skip("float32 overflow only")
    for call in (
        lambda: model.fit(X, Y_GOOD, verbose=0),
        lambda: model.predict(X),
        lambda: model.evaluate(X, Y_GOOD),
    ):
        with pytest.raises(error, match=message):
            call()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("row", "column", "value"), [(0, 0, np.nan), (300, 2, np.inf), (599, 4, -np.inf)]
)
def test_predict_names_the_first_non_finite_value(backend, dtype, row, column, value):
    """predict's fast path (an array the kernels take as it is): the native backend
    tests each chunk of 256 rows as it reaches it, the first chunk, a later one, the
    last element; the message is the same as the NumPy backend's."""
    model = fn.Model(
        [fn.Dense(4, "relu"), fn.Dense(3, "softmax")],
        input_dim=5,
        seed=0,
        dtype=dtype,
        backend=backend,
    )
    X = np.ones((600, 5), dtype=dtype)
    X[row, column] = value
    count = 1
    if row < 599:
        X[row + 1, 0] = np.nan  # a second one, after the first
        count = 2
    expected = f"X contains {count} NaN or infinite value(s) (first at index ({row}, {column}))"
    with pytest.raises(ValueError, match=re.escape(expected)):
        model.predict(X)


def test_ints_and_bools_are_converted(model):
    out = model.predict(np.ones((2, 5), dtype=np.int32))
    assert out.dtype == np.float32 and out.shape == (2, 3)
    model.predict(np.ones((2, 5), dtype=bool))
    model.fit(np.ones((6, 5), dtype=np.int64), Y_GOOD, verbose=0)


def _misaligned(a: np.ndarray) -> np.ndarray:
    """A copy of a whose data starts one byte past an aligned address."""
    out = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def test_misaligned_arrays_reach_the_kernels_aligned(model):
    """A C-contiguous but misaligned array (np.frombuffer at an odd offset makes one)
    is copied, not handed to C as it is: the kernels' loads require alignment."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5)).astype(np.float32)
    weight = rng.random(6).astype(np.float32)
    odd = _misaligned(X)
    assert not odd.flags.aligned and odd.flags.c_contiguous
    assert model.prepare_features(odd).flags.aligned
    assert model.prepare_targets(_misaligned(Y_GOOD), 6).flags.aligned
    checked = fn.validation.as_sample_weight("w", _misaligned(weight), 6, np.float32)
    assert checked.flags.aligned
    np.testing.assert_array_equal(model.predict(odd), model.predict(X))
    assert model.evaluate(odd, Y_GOOD) == model.evaluate(X, Y_GOOD)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0, 1, 2, 0, 1]), "X has 6 samples but y has 5"),
        (np.array([0, 1, 3, 0, 1, 2]), r"label 3 .* labels in 0\.\.2"),
        (np.array([0, 1, -1, 0, 1, 2]), "label -1"),
        (np.array([0, 1, 0.5, 0, 1, 2]), "integer class labels"),
        (np.array([0, 1, np.nan, 0, 1, 2]), "NaN"),
        (np.eye(4)[[0, 1, 2, 0, 1, 2]], "4 columns but the model has 3 outputs"),
        (np.full((6, 3), 2.0), r"probabilities in \[0, 1\]"),
        (np.zeros((6, 3, 1)), "1-D"),
    ],
    ids=["length", "too-big", "negative", "fraction", "nan", "onehot-width", "not-prob", "3-D"],
)
def test_bad_targets(model, y, message):
    with pytest.raises(ValueError, match=message):
        model.fit(X_GOOD, y, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.evaluate(X_GOOD, y)


def test_string_targets_are_refused(model):
    with pytest.raises(TypeError, match="real numbers"):
        model.fit(X_GOOD, np.array(["a", "b", "c", "a", "b", "c"]), verbose=0)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1; got 0"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
        ({"epochs": -1}, ValueError, "epochs must be an integer >= 0; got -1"),
        ({"validation_split": 1.0}, ValueError, "validation_split"),
        ({"validation_split": -0.1}, ValueError, "validation_split"),
        ({"verbose": 5}, ValueError, "verbose"),
        ({"shuffle": "yes"}, TypeError, "shuffle"),
        ({"callbacks": [print]}, TypeError, "Callback"),
        ({"validation_data": X_GOOD}, ValueError, "validation_data"),
        ({"sample_weight": np.ones(5)}, ValueError, r"sample_weight must have shape \(6,\)"),
        ({"sample_weight": -np.ones(6)}, ValueError, "sample_weight must be >= 0"),
        ({"target_loss": float("nan")}, ValueError, "target_loss"),
    ],
)
def test_bad_fit_options(model, options, error, message):
    with pytest.raises(error, match=message):
        model.fit(X_GOOD, Y_GOOD, **options)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: fn.optimizers.SGD(lr=-0.1), ValueError, "lr must be a number in"),
        (lambda: fn.optimizers.Adam(lr=0), ValueError, "lr"),
        (lambda: fn.optimizers.Adam(beta1=1.0), ValueError, "beta1"),
        (lambda: fn.optimizers.SGD(momentum=-1), ValueError, "momentum"),
        (lambda: fn.optimizers.SGD(clipnorm=0), ValueError, "clipnorm"),
        (lambda: fn.optimizers.get("adamax"), ValueError, "unknown optimizer 'adamax'; expected"),
        (lambda: fn.Dense(0), ValueError, "units must be an integer >= 1; got 0"),
        (lambda: fn.Dense(3.5), ValueError, "units"),
        (lambda: fn.Dense(3, activation="swish"), ValueError, "unknown activation 'swish'"),
        (lambda: fn.Dense(3, activation=42), TypeError, "activation"),
        (lambda: fn.Dense(3, kernel_initializer="magic"), ValueError, "unknown initializer"),
        (lambda: fn.Dense(3, kernel_regularizer="l3"), ValueError, "unknown regularizer"),
        (lambda: fn.Dropout(1.0), ValueError, r"rate must be a number in \[0, 1\)"),
        (lambda: fn.Dropout(-0.5), ValueError, "rate"),
        (lambda: fn.Model([fn.Dense(2)], dtype="int32"), ValueError, "dtype"),
        (lambda: fn.Model([fn.Dense(2)], backend="cuda"), ValueError, "unknown backend 'cuda'"),
        (lambda: fn.Model([fn.Dense(2)], input_dim=0), ValueError, "input_dim"),
        (lambda: fn.Model([fn.Dense(2)], seed=-1), ValueError, "seed"),
        (lambda: fn.Model(fn.Dense(2)), TypeError, "list"),
        (lambda: fn.Model([fn.Dense(2), fn.Dropout(0.5)], input_dim=3), ValueError, "last layer"),
        (lambda: fn.set_num_threads(0), ValueError, "n must be an integer >= 1; got 0"),
        (lambda: fn.set_backend("gpu"), ValueError, "unknown backend"),
        (lambda: fn.losses.get("hinge"), ValueError, "unknown loss 'hinge'; expected one of"),
        (lambda: fn.metrics.canonical_name("f1"), ValueError, "unknown metric"),
        (lambda: fn.schedules.StepDecay(0.1, 0), ValueError, "step_size"),
        (lambda: fn.activations.LeakyReLU(alpha=2), ValueError, "alpha"),
        (lambda: fn.losses.Huber(delta=0), ValueError, "delta"),
        (lambda: fn.Perceptron(lr=0), ValueError, "lr"),
    ],
)
def test_bad_hyperparameters(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_incompatible_loss_and_head():
    model = fn.Model([fn.Dense(3, "relu")], input_dim=2)
    with pytest.raises(ValueError, match="needs a softmax output layer"):
        model.compile(loss="cross_entropy")
    model = fn.Model([fn.Dense(1, "tanh")], input_dim=2)
    with pytest.raises(ValueError, match="needs a sigmoid output layer"):
        model.compile(loss="binary_cross_entropy")
    model = fn.Model([fn.Dense(1, "step")], input_dim=2)
    with pytest.raises(ValueError, match="Perceptron"):
        model.compile(loss="mse")


def test_fit_before_compile():
    model = fn.Model([fn.Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.ones((2, 2)), np.ones(2))


def test_set_weights_checks_count_shape_and_values(model):
    weights = model.get_weights()
    with pytest.raises(ValueError, match="list of 4 arrays"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(5, 4\)"):
        model.set_weights([np.zeros((4, 5)), *weights[1:]])
    with pytest.raises(ValueError, match="NaN or inf"):
        model.set_weights([np.full((5, 4), np.nan), *weights[1:]])
    with pytest.raises(ValueError, match=r"dense_\d+\.W must have shape \(5, 4\)"):
        model.layers[0].W = np.zeros((4, 4))
    with pytest.raises(ValueError, match="finite"):
        model.layers[0].b = [np.inf, 0, 0, 0]


def test_layers_are_not_shared():
    layer = fn.Dense(2)
    fn.Model([layer], input_dim=3)
    with pytest.raises(ValueError, match="already belongs"):
        fn.Model([layer], input_dim=3)
