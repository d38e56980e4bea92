"""Finite-difference check of a model's analytic gradients.

Each probed parameter θ compares the backend's analytic derivative ``a`` with the
central difference ``n = (L(θ+h) - L(θ-h)) / 2h`` of the float64 training loss, and
passes when ``|a - n| <= atol + rtol * |n|`` (``numpy.isclose(a, n)``, the test
``torch.autograd.gradcheck`` makes). The absolute part keeps a gradient that is zero in
exact arithmetic (an MAE bias whose residual signs balance) from failing on the 1e-12
of rounding its central difference carries.

The losses and activations have kinks: MAE at residual 0, ReLU / leaky ReLU at 0, L1 at
w = 0, and Huber's second derivative at |residual| = delta. A central difference that
straddles one measures the mean of the slopes either side. So a parameter that fails at
step ``eps`` is probed again at ``eps / 10``, where a kink at some distance no longer lies
in between. One that still fails is skipped (and counted), not failed, when either

* its one-sided differences ``(L(θ+h) - L(θ)) / h`` and ``(L(θ) - L(θ-h)) / h``
  disagree, by at least the mismatch: a kink within the step. On a smooth loss they
  differ by ``h * L''``, so a wrong gradient passes for a kink only when it is wrong
  by less than ``1e-6 * |L''|`` (at the default step); or
* the analytic derivative is right on both sides (at ``θ ± h/2``, against the one-sided
  differences) and differs only at θ: units sitting exactly on their kinks, where
  backprop takes each unit's one-sided derivative (ReLU'(0) = 0) even when the kinks
  cancel in the loss. A bug in a backend is wrong beside θ too.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

from . import validation as check

# How much smaller the second probe's step is than the first.
_SECOND_STEP = 10.0
# The central difference of a loss L computed in float64 carries rounding of about
# eps_machine * |L| / h; the absolute tolerance is raised by this many times that, so a
# large loss (MSE of targets in the thousands) does not fail on rounding alone.
_ROUNDING_MARGIN = 100.0


def gradient_check(
    model,
    X,
    y,
    eps: float = 1e-5,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    max_params: int = 2000,
    seed: int = 0,
    sample_weight=None,
    tolerance: float | None = None,
) -> dict:
    """Compare the backend's analytic gradients with central differences of the loss.

    The check runs on a float64 copy of the model (same weights, backend, loss, Dropout
    masks of the next step), so the model itself is untouched. At most ``max_params``
    trainable parameters (drawn at random from ``seed``) are probed.

    A parameter passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` at step
    ``eps`` or, failing that, at ``eps / 10``. One that sits on a kink of the loss (MAE
    at residual 0, ReLU / leaky ReLU at 0) is skipped and counted instead of failed.
    ``tolerance`` is the former name of ``rtol``.

    Returns a dict:

    - ``passed``: no probed parameter failed and at least one was verified (a model whose
      every probed parameter sat on a kink has not been checked);
    - ``max_rel_error``: the largest ``|analytic - numeric| / (|numeric| + atol / rtol)``
      over the parameters not skipped: the relative error, with the gradient's size
      floored at atol / rtol, so that ``passed`` means ``max_rel_error <= rtol``;
    - ``max_abs_error``: the largest ``|analytic - numeric|`` over the same parameters;
    - ``n_probed``, ``n_skipped``: parameters probed, and skipped as kinks.
    """
    if tolerance is not None:
        warnings.warn(
            "gradient_check(tolerance=...) is now rtol=...; tolerance will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        rtol = tolerance
    eps = check.check_float("eps", eps, 0.0, 1.0, low_open=True)
    rtol = check.check_float("rtol", rtol, 0.0, low_open=True)
    atol = check.check_float("atol", atol, 0.0)
    max_params = check.check_int("max_params", max_params, 1)
    model._require_compiled()  # the loss is what gets differentiated

    probe = _Probe(model, X, y, sample_weight)
    candidates = probe.trainable_indices()
    if candidates.size > max_params:
        candidates = np.random.default_rng(seed).choice(candidates, max_params, replace=False)
    worst_rel = worst_abs = 0.0
    verified = skipped = 0
    for index in candidates:
        verdict, rel, error = _check_one(probe, int(index), eps, rtol, atol)
        if verdict == "skipped":
            skipped += 1
            continue
        verified += verdict == "verified"
        worst_rel, worst_abs = max(worst_rel, rel), max(worst_abs, error)
    failed = candidates.size - verified - skipped
    return {
        "max_rel_error": float(worst_rel),
        "passed": failed == 0 and (verified > 0 or candidates.size == 0),
        "max_abs_error": float(worst_abs),
        "n_probed": int(candidates.size),
        "n_skipped": int(skipped),
    }


def _check_one(probe, index: int, eps: float, rtol: float, atol: float):
    """("verified" | "skipped" | "failed", relative error, absolute error) of one
    parameter; the errors are those of the step that came closest."""
    exact, theta = probe.analytic[index], float(probe.params[index])
    best = (np.inf, np.inf)
    for step in (eps, eps / _SECOND_STEP):
        up, down = probe.loss(index, theta + step), probe.loss(index, theta - step)
        numeric = (up - down) / (2 * step)
        floor = atol + _ROUNDING_MARGIN * np.finfo(np.float64).eps * abs(probe.base) / step
        error = abs(exact - numeric)
        rel = error / (abs(numeric) + floor / rtol)
        best = min(best, (rel, error))
        if rel <= rtol:
            return "verified", rel, error

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= floor + rtol * abs(b)

    # The one-sided differences at the last step: the slopes either side of theta.
    right, left = (up - probe.base) / step, (probe.base - down) / step
    # A kink within the step: the slopes disagree, by at least the mismatch seen.
    if not close(right, left) and error <= abs(right - left):
        return "skipped", *best
    # A kink at theta itself that the loss does not show (two ReLU-like units on their
    # kinks whose slopes cancel): the backend's derivative is right on either side of
    # theta (the one-sided differences are central differences at theta +- step / 2)
    # and jumps at theta, where backprop takes each unit's one-sided derivative.
    if close(probe.derivative(index, theta + step / 2), right) and close(
        probe.derivative(index, theta - step / 2), left
    ):
        return "skipped", *best
    return "failed", *best


class _Probe:
    """A float64 copy of the model with the data: the loss, and the analytic derivative,
    at one parameter moved."""

    def __init__(self, model, X, y, sample_weight) -> None:
        self.model = _float64_copy(model)
        self.X, self.y, self.weight = self.model._loss_inputs(X, y, sample_weight)
        self.backend = self.model.backend_impl()
        self.params = self.model.params
        self.analytic = self._gradient()
        self.base = self.model.loss_at(self.X, self.y, self.weight, backend=self.backend)

    def trainable_indices(self) -> np.ndarray:
        ranges = [np.arange(start, stop) for start, stop in self.model.net().segments()]
        return np.concatenate(ranges) if ranges else np.zeros(0, np.int64)

    def loss(self, index: int, value: float) -> float:
        with self._moved(index, value):
            return self.model.loss_at(self.X, self.y, self.weight, backend=self.backend)

    def derivative(self, index: int, value: float) -> float:
        with self._moved(index, value):
            return float(self._gradient()[index])

    def _gradient(self) -> np.ndarray:
        grads = np.zeros_like(self.params)
        ws = self.model.loss_at(self.X, self.y, self.weight, backend=self.backend, keep=True)
        self.backend.backward(self.model.net(), self.params, grads, ws, self.X)
        return grads

    @contextmanager
    def _moved(self, index: int, value: float):
        saved = self.params[index]
        self.params[index] = value
        try:
            yield
        finally:
            self.params[index] = saved


def _float64_copy(model):
    """The same network, weights and loss in float64 (Dropout masks of the same step)."""
    from .model import Model

    probe = Model(
        [layer.copy() for layer in model.layers],
        input_dim=model.input_dim,
        seed=model.seed,
        dtype="float64",
        backend=model._backend_name,
    )
    probe.compile(loss=model.loss, optimizer="sgd")
    probe.dropout_seed = model.dropout_seed
    probe.steps_trained = model.steps_trained
    for source, target in zip(model.layers, probe.layers):
        target.trainable = source.trainable
    return probe
