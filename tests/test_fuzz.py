"""Throw random shapes, dtypes, strides, NaN patterns, hyperparameters and damaged files
at the API: each call must give a correct result or a clean ValueError/TypeError —
never a crash, never another exception type."""

from __future__ import annotations

import io
import warnings
import zipfile

import numpy as np
import pytest
from conftest import BACKENDS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastnn as fn

CLEAN_ERRORS = (ValueError, TypeError)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

DTYPES = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int32",
    "int64",
    "uint8",
    "bool",
    "complex64",
    "object",
    "str",
]


@st.composite
def arrays(draw, max_dims=3):
    """An array of any dtype, shape and strides, possibly holding NaN/inf."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=max_dims)))
    size = int(np.prod(shape)) if shape else 1
    values = np.asarray(draw(st.lists(st.floats(-1e6, 1e6), min_size=size, max_size=size)))
    array = values.reshape(shape) if shape else values.reshape(())
    poison = draw(st.sampled_from([None, np.nan, np.inf, -np.inf]))
    if poison is not None and array.size:
        array = array.copy()
        array.flat[draw(st.integers(0, array.size - 1))] = poison
    if dtype == "str":
        array = array.astype(str)
    elif dtype == "object":
        array = array.astype(object)
    elif dtype != "float64":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = array.astype(dtype)
    layout = draw(st.sampled_from(["c", "fortran", "strided", "reversed"]))
    if array.ndim >= 2 and layout == "fortran":
        array = np.asfortranarray(array)
    elif array.ndim >= 1 and layout == "strided":
        array = np.repeat(array, 2, axis=0)[::2]
    elif array.ndim >= 1 and layout == "reversed":
        array = array[::-1]
    return array


def _model(backend: str, n_in: int = 3, loss: str = "cross_entropy"):
    head = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss, "linear")
    units = 1 if loss == "binary_cross_entropy" else 3
    model = fn.Model(
        [fn.Dense(4, "relu"), fn.Dropout(0.2), fn.Dense(units, head)],
        input_dim=n_in,
        seed=0,
        backend=backend,
    )
    model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
    return model


def _expect_clean(call):
    """Run call; a ValueError/TypeError is fine, anything else fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return call()
    except CLEAN_ERRORS as error:
        assert str(error), "an error without a message"
        return None


@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(X=arrays())
def test_predict_on_anything(backend, X):
    model = _model(backend)
    out = _expect_clean(lambda: model.predict(X))
    if out is not None:
        rows = X.reshape(-1, 3) if X.ndim == 1 else X
        assert out.shape == (rows.shape[0], 3)
        assert np.isfinite(out).all()
        expected = model.predict(np.asarray(rows, dtype=np.float64))
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(
    X=arrays(),
    y=arrays(max_dims=2),
    loss=st.sampled_from(["cross_entropy", "binary_cross_entropy", "mse", "huber"]),
)
def test_fit_and_evaluate_on_anything(backend, X, y, loss):
    model = _model(backend, loss=loss)
    history = _expect_clean(lambda: model.fit(X, y, epochs=1, batch_size=2, verbose=0))
    if history is not None:
        assert np.isfinite(history.history["loss"]).all()
        assert all(np.isfinite(w).all() for w in model.get_weights())
    result = _expect_clean(lambda: model.evaluate(X, y))
    if result is not None:
        assert all(isinstance(v, float) for v in result.values())


@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(
    batch_size=st.one_of(st.integers(-3, 40), st.floats(-1, 5), st.none(), st.text(max_size=2)),
    epochs=st.one_of(st.integers(-2, 3), st.floats(0, 2), st.booleans()),
    validation_split=st.one_of(st.floats(-0.5, 1.5), st.integers(-1, 2), st.none()),
    shuffle=st.one_of(st.booleans(), st.integers(0, 1), st.none()),
    lr=st.one_of(st.floats(-1, 100), st.sampled_from([np.nan, np.inf]), st.integers(-1, 3)),
)
def test_hyperparameters(backend, batch_size, epochs, validation_split, shuffle, lr):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 3, 12)

    def run():
        model = fn.Model([fn.Dense(3, "softmax")], seed=0, backend=backend)
        model.compile(loss="cross_entropy", optimizer=fn.optimizers.SGD(lr=lr))
        return model.fit(
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_split=validation_split,
            shuffle=shuffle,
            verbose=0,
        )

    _expect_clean(run)


def _saved_bytes() -> bytes:
    model = _model("numpy")
    model.fit(np.ones((4, 3)), [0, 1, 2, 0], epochs=1, verbose=0)
    return fn.io.model_to_bytes(model)


GOOD_FILE = _saved_bytes()


@FUZZ
@given(
    cuts=st.lists(st.integers(0, len(GOOD_FILE) - 1), max_size=3),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD_FILE) - 1), st.integers(1, 255)), max_size=6),
)
def test_damaged_model_files(tmp_path_factory, cuts, flips):
    data = bytearray(GOOD_FILE)
    for position, value in flips:
        data[position] ^= value
    for cut in sorted(cuts, reverse=True)[:1]:
        del data[cut:]
    assume(bytes(data) != GOOD_FILE)
    path = tmp_path_factory.mktemp("fuzz") / "m.fnn"
    path.write_bytes(bytes(data))
    try:
        model = fn.load_model(path)
    except fn.ModelFileError as error:
        assert str(path) in str(error)
        return
    # a change the format tolerates (e.g. in JSON whitespace): the model must work
    assert np.isfinite(model.predict(np.ones((2, 3)))).all()


@FUZZ
@given(
    document=st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-5, 5),
            st.floats(allow_nan=False),
            st.text(max_size=5),
        ),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=12,
    )
)
def test_foreign_json_documents(tmp_path_factory, document):
    import json

    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(GOOD_FILE)) as good, zipfile.ZipFile(buffer, "w") as bad:
        real = json.loads(good.read("model.json"))
        for name in good.namelist():
            if name != "model.json":
                bad.writestr(name, good.read(name))
        key = next(iter(document)) if isinstance(document, dict) and document else None
        section = real["config"] if key is None else real
        section[key or "layers"] = document
        bad.writestr("model.json", json.dumps(real))
    path = tmp_path_factory.mktemp("json") / "m.fnn"
    path.write_bytes(buffer.getvalue())
    try:
        fn.load_model(path)
    except fn.ModelFileError:
        pass
