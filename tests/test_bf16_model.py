"""bf16 mixed precision through the Model: the switch (names, checks), training and
predict on both backends agreeing, float32 master weights and optimizer state, saving,
and the CLI flag. The kernels themselves: tests/test_bf16.py; the accuracy of the
Fashion-MNIST recipe in bf16: tests/test_cli.py."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import cli
from fastnn.backends import reference
from fastnn.backends.spec import LayerKind, Precision


def _data(n=256, d=20, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    return X, rng.integers(0, classes, n)


def _model(precision="bf16", backend=None, seed=1, d=20):
    model = fn.Model(
        [fn.Dense(48, "relu"), fn.Dropout(0.1), fn.Dense(32, "gelu"), fn.Dense(5, "softmax")],
        input_dim=d,
        seed=seed,
        backend=backend,
        precision=precision,
    )
    model.compile(loss="cross_entropy", optimizer="adam", metrics=["accuracy"])
    return model


# ------------------------------------------------------------------ the switch


@pytest.mark.parametrize("name", ["bf16", "BF16", "bfloat16", "mixed_bfloat16"])
def test_policy_names(name):
    model = _model(precision=name)
    assert model.precision == "bf16"
    assert all(
        layer.precision == Precision.BF16
        for layer in model.net().layers
        if layer.kind == LayerKind.DENSE
    )
    assert "precision='bf16'" in repr(model)
    assert _model(precision="fp32").precision == _model(precision=None).precision == "float32"


def test_bad_policies_are_clear_errors():
    with pytest.raises(ValueError, match=r"needs a float32 model.*float64"):
        fn.Model([fn.Dense(3)], dtype="float64", precision="bf16")
    with pytest.raises(ValueError, match="float16 products are not supported"):
        fn.Model([fn.Dense(3)], precision="mixed_float16")
    with pytest.raises(ValueError, match="unknown precision 'int8'"):
        fn.Model([fn.Dense(3)], precision="int8")
    with pytest.raises(TypeError, match="precision must be a string"):
        fn.Model([fn.Dense(3)], precision=16)
    model = fn.Model([fn.Dense(3)], dtype="float64")
    with pytest.raises(ValueError, match="needs a float32 model"):
        model.precision = "bf16"
    assert model.precision == "float32"


# ------------------------------------------------------------------ semantics


def test_backends_agree_in_bf16():
    """One set of gradients, and a short training run's predictions, on the native
    backend against the NumPy reference (which rounds with reference.round_bf16). A float
    sum that lands on the other side of a bf16 rounding point flips that operand by one
    bf16 step, so the comparison allows that, not more."""
    X, y = _data()
    native, numpy = _model(backend="native"), _model(backend="numpy")
    for got, want in zip(native.gradients(X, y), numpy.gradients(X, y)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3 * np.abs(want).max())
    native.fit(X, y, epochs=2, batch_size=32, verbose=0)
    numpy.fit(X, y, epochs=2, batch_size=32, verbose=0)
    np.testing.assert_allclose(native.predict(X), numpy.predict(X), rtol=0, atol=1e-2)


def test_bf16_is_not_float32(backend):
    """The switch does something: gradients and predictions move by about bf16's
    precision (2^-8 relative), far more than float32 summation order could."""
    X, y = _data()
    bf16, fp32 = _model(backend=backend), _model(precision="float32", backend=backend)
    assert np.array_equal(bf16.params, fp32.params)  # same seed, same start
    g16, g32 = bf16.gradients(X, y), fp32.gradients(X, y)
    worst = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(g16, g32))
    assert 1e-4 < worst < 0.2
    p16, p32 = bf16.predict(X), fp32.predict(X)
    assert 1e-5 < np.abs(p16 - p32).max() < 0.05


def test_forward_is_the_rounded_product(backend):
    """predict of one Dense layer: round(x) @ round(W) summed in float32, bias and
    activation in float32 (the NumPy twin's definition, checked here from scratch)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 300)).astype(np.float32)
    model = fn.Model([fn.Dense(40, "tanh")], input_dim=300, seed=3, backend=backend)
    model.precision = "bf16"
    W, b = model.get_weights()
    rounded = reference.round_bf16(X).astype(np.float64) @ reference.round_bf16(W).astype(
        np.float64
    )
    np.testing.assert_allclose(model.predict(X), np.tanh(rounded + b), rtol=0, atol=2e-5)


def test_master_weights_and_optimizer_state_stay_float32(backend):
    """After bf16 training the weights are float32 values, not bf16 ones (the optimizer
    updates the float32 master copy), and so is the optimizer's state."""
    X, y = _data()
    model = _model(backend=backend)
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    assert model.params.dtype == np.float32
    representable = reference.round_bf16(model.params) == model.params
    assert representable.mean() < 0.1  # float32 weights: almost none are bf16 values
    assert all(state.dtype == np.float32 for state in model.optimizer.states)
    assert all(reference.round_bf16(s).tolist() != s.tolist() for s in model.optimizer.states)


def test_switching_precision_after_training(backend):
    """Train in float32, predict in bf16 and back: the cached network is rebuilt."""
    X, y = _data()
    model = _model(precision="float32", backend=backend)
    model.fit(X, y, epochs=1, batch_size=64, verbose=0)
    fp32 = model.predict(X)
    model.precision = "mixed_bfloat16"
    bf16 = model.predict(X)
    assert not np.array_equal(bf16, fp32)
    model.precision = "float32"
    assert np.array_equal(model.predict(X), fp32)


def test_session_split_gives_the_bits_of_train_step(backend):
    """The data-parallel split (compute_gradients, then apply_gradients) of a bf16 model
    gives train_step's bits, and switching the precision makes a new session."""
    X, y = _data()
    fused, split = _model(backend=backend), _model(backend=backend)
    one, two = fused.training_session(32), split.training_session(32)
    one.bind_data(X, y)
    two.bind_data(X, y)
    for t, start in enumerate(range(0, 96, 32), start=1):
        rows = slice(start, start + 32)
        one.train_step(rows, 0.01, t, t - 1)
        two.compute_gradients(rows, t - 1)
        two.apply_gradients(0.01, t)
    assert np.array_equal(fused.params, split.params)
    fused.precision = "float32"
    assert fused.training_session(32) is not one


def test_saved_models_keep_float32_weights_and_the_policy(backend, tmp_path):
    X, y = _data()
    model = _model(backend=backend)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "bf16.fnn"
    model.save(path)
    loaded = fn.load_model(path)
    assert loaded.precision == "bf16"
    assert loaded.params.dtype == np.float32
    assert np.array_equal(loaded.params, model.params)  # the float32 values themselves
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_config()["precision"] == "bf16"


def test_files_without_a_policy_load_as_float32(tmp_path):
    from fastnn.io import model_from_config

    config = _model().get_config()
    del config["precision"]  # as written before bf16 existed
    assert model_from_config(config).precision == "float32"


# ------------------------------------------------------------------ the command line


def test_cli_precision_flag(capsys):
    status = cli.main(["train", "--verbose", "0", "--epochs", "5", "--precision", "bf16"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "bf16 products (level " in out
    assert float(out.split("test accuracy ")[1].split()[0]) > 0.9
    status = cli.main(["train", "--precision", "bf16", "--dtype", "float64", "--epochs", "1"])
    assert status == 2
    assert "needs a float32 model" in capsys.readouterr().err
