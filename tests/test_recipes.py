"""The recipes of docs/architecture.md, followed in a test build of the NumPy backend.

"Add an activation" and "Add a loss" start with the reference: a code, the maths in the
registries of fastnn/backends/reference.py, a name in fastnn/activations.py or
fastnn/losses.py. Those steps alone make a model train with it on the NumPy backend,
which is what these tests do, with a toy activation (softsign) and a toy loss
(log-cosh) put in the registries for the test's duration. The native steps (a C case,
its enum) are checked for the real ones by test_codes.py, test_native_kernels.py and
test_twins.py, which pick up every code of spec.Act / spec.Loss by themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import activations, losses
from fastnn.backends import reference
from fastnn.backends.spec import Act, Loss

SOFTSIGN = 100  # codes no activation or loss has
LOG_COSH = 100


@pytest.fixture
def softsign(monkeypatch):
    """Recipe "Add an activation", steps 1-3: the code, its function and its derivative
    (in terms of the output a, as every derivative but GELU's), its name."""
    assert SOFTSIGN not in set(Act)
    monkeypatch.setitem(reference.ACTIVATIONS, SOFTSIGN, lambda z, alpha: z / (1 + np.abs(z)))
    # a = z / (1 + |z|)  =>  da/dz = 1 / (1 + |z|)^2 = (1 - |a|)^2
    monkeypatch.setitem(
        reference.DERIVATIVES, SOFTSIGN, lambda a, z, da, alpha: da * (1 - np.abs(a)) ** 2
    )
    monkeypatch.setitem(
        activations._FACTORIES, "softsign", lambda: activations.Activation("softsign", SOFTSIGN)
    )


@pytest.fixture
def log_cosh(monkeypatch):
    """Recipe "Add a loss", steps 1-3: the code, the per-sample losses and their gradient
    with respect to the output (before the batch's 1/n), its name."""
    assert LOG_COSH not in set(Loss)

    def terms(a, z, t, param):
        e = a - t
        return np.log(np.cosh(e)).mean(axis=1), np.tanh(e) / a.dtype.type(a.shape[1])

    monkeypatch.setitem(reference.LOSSES, LOG_COSH, terms)
    monkeypatch.setitem(
        losses._FACTORIES, "log_cosh", lambda: losses.LossFunction("log_cosh", LOG_COSH)
    )


def _data(n=64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)


def test_a_new_activation_trains_on_the_reference_backend(softsign):
    X, y = _data()
    model = fn.Model(
        [fn.Dense(8, "softsign"), fn.Dense(2)], input_dim=3, seed=1, dtype="float64",
        backend="numpy",
    )  # fmt: skip
    model.compile(loss="mse", optimizer=fn.optimizers.Adam(0.02))
    W, b = model.layers[0].W, model.layers[0].b
    hidden = (X @ W + b) / (1 + np.abs(X @ W + b))
    expected = hidden @ model.layers[1].W + model.layers[1].b
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12)
    assert fn.gradient_check(model, X, y)["passed"]
    history = model.fit(X, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_a_new_loss_trains_on_the_reference_backend(log_cosh):
    X, y = _data()
    model = fn.Model(
        [fn.Dense(8, "tanh"), fn.Dense(2)], input_dim=3, seed=2, dtype="float64",
        backend="numpy",
    )  # fmt: skip
    model.compile(loss="log_cosh", optimizer=fn.optimizers.Adam(0.02))
    expected = np.log(np.cosh(model.predict(X) - y)).mean()
    assert model.evaluate(X, y)["loss"] == pytest.approx(expected, rel=1e-12)
    assert fn.gradient_check(model, X, y)["passed"]
    history = model.fit(X, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_every_code_has_its_reference_maths():
    """Step 2 of both recipes cannot be forgotten for a code in spec.Act / spec.Loss."""
    assert set(reference.ACTIVATIONS) == set(Act) == set(reference.DERIVATIVES)
    assert set(reference.LOSSES) == set(Loss)
    assert set(reference.FUSED_HEADS) <= set(Loss)
