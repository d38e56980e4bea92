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


# ------------------------------------------------------------------ the native entry points
# fastnn.backends._native's functions take raw pointers from the arrays they are given:
# each must check every argument before C sees it. Each example starts from a valid call
# (a 4 -> 6 relu -> Dropout -> 3 softmax net, float32 or float64) and spoils one
# argument: an array in another dtype, layout (Fortran, transposed, reversed, strided,
# misaligned), shape or writability, or an arbitrary value in its place. The call must
# succeed or raise a clean ValueError/TypeError.

ODD_VALUES = [
    None,
    0,
    -1,
    7,
    2**31,
    2**64 + 3,
    -(2**63) - 1,
    0.5,
    np.nan,
    np.inf,
    True,
    "relu",
    "",
    [],
    [1.0, 2.0],
    object(),
    1j,
]


def _misaligned(a: np.ndarray) -> np.ndarray:
    """a's values in an array whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)[1:]
    out = raw.view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out.flags.writeable = False
    return out


ARRAY_MUTATIONS = {
    "other float": lambda a: a.astype(np.float32 if a.dtype == np.float64 else np.float64),
    "int64": lambda a: a.astype(np.int64),
    "int32": lambda a: a.astype(np.int32),
    "bool": lambda a: a.astype(bool),
    "uint8": lambda a: a.astype(np.uint8),
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "fortran": lambda a: np.asfortranarray(np.repeat(a.reshape(len(a), -1), 2, axis=1)),
    "transposed": lambda a: a.T,
    "reversed": lambda a: a[::-1],
    "strided": lambda a: np.repeat(a, 2, axis=0)[::2],
    "column slice": lambda a: a[:, :-1] if a.ndim == 2 else a[::2],
    "misaligned": _misaligned,
    "read-only": _read_only,
    "one row less": lambda a: a[:-1].copy(),
    "one row more": lambda a: np.concatenate([a, a[:1]]),
    "flattened": lambda a: a.ravel().copy(),
    "extra axis": lambda a: a[None].copy(),
    "0-d": lambda a: np.asarray(a.flat[0]),
    "empty": lambda a: a[:0].copy(),
    "NaN": lambda a: np.full_like(a, np.nan) if a.dtype.kind == "f" else a,
    "huge": lambda a: (
        np.full_like(a, 1e300 if a.dtype == np.float64 else 3e38) if a.dtype.kind == "f" else a
    ),
    "list": lambda a: a.tolist(),
}


def _net_spec(dtype):
    from fastnn.backends.spec import Act, LayerKind, LayerSpec, NetSpec

    layers = (
        LayerSpec(LayerKind.DENSE, 4, 6, Act.RELU, w_offset=0, b_offset=24),
        LayerSpec(LayerKind.DROPOUT, 6, 6, rate=0.5),
        LayerSpec(LayerKind.DENSE, 6, 3, Act.SOFTMAX, w_offset=30, b_offset=48),
    )
    return NetSpec(layers, 51, np.dtype(dtype))


def _valid_calls(dtype):
    """{entry point: (function, valid keyword arguments)}, made fresh for each example."""
    from fastnn.backends import _native, native
    from fastnn.backends.spec import Act, Loss, LossSpec, Opt, StepSpec, TrainingBuffers, Workspace

    rng = np.random.default_rng(0)

    def array(*shape):
        return rng.normal(size=shape).astype(dtype)

    net = _net_spec(dtype)
    params, x, labels = array(51) * 0.3, array(5, 4), np.array([0, 2, 1, 1, 0])
    ws = native.NativeWorkspace(net, 8)
    _native.net_forward(net, params, x, ws, True, 1, 1)
    ce = LossSpec(Loss.CROSS_ENTROPY)
    _native.net_loss_grad(net, ce, params, ws, labels)

    def net_buffers(net, batch, acts0, pres2, masks1, dout, deltas1):
        workspace = Workspace(_net_spec(dtype), 8)
        workspace.batch = batch
        workspace.acts[0], workspace.pres[2], workspace.masks[1] = acts0, pres2, masks1
        workspace.dout, workspace.deltas[1] = dout, deltas1
        return _native.NetBuffers(net, workspace)

    plain = Workspace(net, 8)
    adam = StepSpec(Opt.ADAM, clipnorm=1.0)

    def buffers():
        return TrainingBuffers(params.copy(), np.zeros_like(params), (
            np.zeros_like(params), np.zeros_like(params)))  # fmt: skip

    def session(**bound):
        made = _native.TrainSession(net, ce, adam, buffers(), native.NativeWorkspace(net, 8))
        made.bind_data(**bound) if bound else made.bind_data(x, labels)
        return made

    def session_bind_data(X, y, sample_weight):
        session().bind_data(X, y, sample_weight)

    def session_train_step(rows, lr, t, dropout_step):
        return session().train_step(rows, lr, t, dropout_step)

    def session_compute_gradients(rows, dropout_step, row_offset, denominator, penalty):
        return session().compute_gradients(
            rows, dropout_step, row_offset=row_offset, denominator=denominator, penalty=penalty
        )

    def session_apply_gradients(lr, t):
        session().apply_gradients(lr, t)

    return {
        "net_forward": (
            _native.net_forward,
            dict(net=net, params=params, x=x, ws=ws, training=True, seed=1, step=2),
        ),
        "net_loss_grad": (
            _native.net_loss_grad,
            dict(net=net, loss=ce, params=params, ws=ws, y=labels, sample_weight=array(5)),
        ),
        "net_backward": (
            _native.net_backward,
            dict(net=net, params=params, grads=np.zeros_like(params), ws=ws, x=x),
        ),
        "net_predict": (_native.net_predict, dict(net=net, params=params, x=x, chunk=2)),
        "step": (
            _native.step,
            dict(
                spec=StepSpec(Opt.ADAM, clipnorm=1.0),
                params=params.copy(),
                grads=array(51),
                states=[np.zeros_like(params), np.zeros_like(params)],
                segments=net.segments(),
                lr=0.01,
                t=1,
            ),
        ),
        "grad_norm": (_native.grad_norm, dict(grads=array(51), segments=net.segments())),
        "act_forward": (_native.act_forward, dict(act=int(Act.TANH), z=array(3, 4), param=0.0)),
        "act_grad": (
            _native.act_grad,
            dict(act=int(Act.GELU), a=array(3, 4), z=array(3, 4), da=array(3, 4), param=0.0),
        ),
        "loss_grad": (
            _native.loss_grad,
            dict(
                loss=ce,
                act=int(Act.SOFTMAX),
                a=np.full((5, 3), 1 / 3, dtype),
                z=array(5, 3),
                y=labels,
                sample_weight=None,
                act_param=0.0,
                denominator=8,
            ),
        ),
        "TrainSession": (
            _native.TrainSession,
            dict(
                net=net,
                loss=ce,
                step_spec=adam,
                buffers=buffers(),
                workspace=native.NativeWorkspace(net, 8),
                metrics=(0, 3),
                dropout_seed=3,
                segments=net.segments(),
            ),
        ),
        "session.bind_data": (
            session_bind_data,
            dict(X=array(9, 4), y=np.arange(9) % 3, sample_weight=array(9)),
        ),
        "session.train_step": (
            session_train_step,
            dict(rows=np.array([4, 0, 2]), lr=0.01, t=1, dropout_step=5),
        ),
        "session.compute_gradients": (
            session_compute_gradients,
            dict(rows=np.array([1, 3]), dropout_step=2, row_offset=4, denominator=6, penalty=True),
        ),
        "session.apply_gradients": (session_apply_gradients, dict(lr=0.01, t=2)),
        "dropout_mask": (
            _native.dropout_mask,
            dict(seed=1, step=2, layer=1, shape=(3, 4), rate=0.3),
        ),
        "gemm": (
            _native.gemm,
            dict(
                a=array(5, 4),
                b=array(4, 3),
                out=array(5, 3),
                bias=array(3),
                z=array(5, 3),
                act="relu",
                alpha=1.0,
                beta=0.5,
            ),
        ),
        "NetBuffers": (
            net_buffers,
            dict(
                net=net,
                batch=8,
                acts0=plain.acts[0],
                pres2=plain.pres[2],
                masks1=plain.masks[1],
                dout=plain.dout,
                deltas1=plain.deltas[1],
            ),
        ),
        "mix64": (_native.mix64, dict(x=12345)),
    }


ENTRY_POINTS = sorted(_valid_calls(np.float64)) if "native" in BACKENDS else []


@st.composite
def spoiled_calls(draw, entry):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    function, kwargs = _valid_calls(dtype)[entry]
    name = draw(st.sampled_from(sorted(kwargs)))
    valid = kwargs[name]
    choices = [st.sampled_from(ODD_VALUES), arrays()]
    if name == "shape":  # of the mask to allocate: no arrays of up to 1e6 per dimension
        choices = [st.sampled_from(ODD_VALUES), st.lists(st.integers(-3, 9), max_size=3)]
    if isinstance(valid, np.ndarray):
        mutation = st.sampled_from(sorted(ARRAY_MUTATIONS)).map(
            lambda key: ARRAY_MUTATIONS[key](valid)
        )
        choices = [mutation, mutation, *choices]  # mostly near misses
    kwargs[name] = draw(st.one_of(choices))
    return function, kwargs


@pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@FUZZ
@given(data=st.data())
def test_native_entry_points_check_their_arguments(entry, data):
    function, kwargs = data.draw(spoiled_calls(entry))
    try:
        with warnings.catch_warnings():  # NumPy's, on values cast or compared
            warnings.simplefilter("ignore", RuntimeWarning)
            function(**kwargs)
    except (*CLEAN_ERRORS, OverflowError) as error:  # OverflowError: Cython's conversion
        assert str(error), "an error without a message"  # of an int past a C int's range


@pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")
def test_native_entry_points_refuse_what_c_cannot_take():
    """What the fuzzing above only shows under UBSan (a misaligned load, a NaN converted
    to an integer), checked directly: refused, or copied where the call may copy."""
    from fastnn.backends import _native

    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    np.testing.assert_allclose(_native.act_forward(4, _misaligned(x)), np.tanh(x), rtol=1e-12)
    with pytest.raises(ValueError, match="aligned"):
        _native.gemm(x, x.T, out=_misaligned(np.zeros((3, 3))))
    a, b = _misaligned(x), _misaligned(x.T.copy())  # inputs the GEMM copies
    np.testing.assert_allclose(_native.gemm(a, b, bias=_misaligned(x[0, :3])), x @ x.T + x[0, :3])
    with pytest.raises(ValueError, match="rate"):
        _native.dropout_mask(1, 2, 3, (4, 5), float("nan"))


@pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")
@FUZZ
@given(
    n_in=st.integers(1, 9),
    hidden=st.lists(st.tuples(st.integers(1, 17), st.floats(0.0, 0.9)), min_size=0, max_size=2),
    activation=st.sampled_from(["relu", "tanh", "gelu", "elu"]),
    head=st.sampled_from(["cross_entropy", "binary_cross_entropy", "mse"]),
    n=st.integers(1, 40),
    batch_size=st.integers(1, 48),
    seed=st.integers(0, 2**32),
)
def test_native_and_numpy_fit_agree(n_in, hidden, activation, head, n, batch_size, seed):
    """One epoch on both backends, float64, from the same seed (same initial weights,
    shuffling and Dropout masks): the same epoch loss to 1e-8 relative."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    outputs = {"cross_entropy": 3, "binary_cross_entropy": 1, "mse": 2}[head]
    y = {
        "cross_entropy": rng.integers(0, 3, n),
        "binary_cross_entropy": rng.integers(0, 2, n),
        "mse": rng.normal(size=(n, 2)),
    }[head]
    losses = []
    for backend in ("native", "numpy"):
        layers = []
        for units, rate in hidden:
            layers.append(fn.Dense(units, activation))
            if rate > 0:
                layers.append(fn.Dropout(rate))
        last = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(head)
        layers.append(fn.Dense(outputs, last))
        model = fn.Model(layers, seed=seed, dtype="float64", backend=backend)
        model.compile(loss=head, optimizer=fn.optimizers.Adam(lr=0.01))
        history = model.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)
        losses.append(history.history["loss"][0])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-8, atol=1e-14)
