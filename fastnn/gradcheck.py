"""Finite-difference check of a model's analytic gradients."""

from __future__ import annotations

import numpy as np


def gradient_check(
    model,
    X,
    y,
    eps: float = 1e-5,
    tolerance: float = 1e-5,
    max_params: int = 2000,
    seed: int = 0,
    sample_weight=None,
) -> dict:
    """Compare the backend's analytic gradients with central differences of the loss.

    The check runs on a float64 copy of the model (same weights, same backend) so that
    finite differences are meaningful. At most ``max_params`` trainable parameters
    (chosen at random, seeded) are probed. The relative error of one parameter is
    |analytic - numeric| / max(|analytic| + |numeric|, 1e-8); the check passes when the
    largest is below ``tolerance``. Returns {"max_rel_error": float, "passed": bool}.
    """
    probe = _float64_copy(model)
    X, y, weight = probe._loss_inputs(X, y, sample_weight)
    backend, params = probe.backend_impl(), probe.params
    analytic = np.zeros_like(params)
    workspace = probe.loss_at(X, y, weight, backend=backend, keep=True)
    backend.backward(probe.net(), params, analytic, workspace, X)

    candidates = _trainable_indices(probe)
    if candidates.size > max_params:
        candidates = np.random.default_rng(seed).choice(candidates, max_params, replace=False)
    worst = 0.0
    for index in candidates:
        saved = params[index]
        params[index] = saved + eps
        up = probe.loss_at(X, y, weight, backend=backend)
        params[index] = saved - eps
        down = probe.loss_at(X, y, weight, backend=backend)
        params[index] = saved
        numeric = (up - down) / (2 * eps)
        exact = analytic[index]
        worst = max(worst, abs(exact - numeric) / max(abs(exact) + abs(numeric), 1e-8))
    return {"max_rel_error": float(worst), "passed": bool(worst < tolerance)}


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


def _trainable_indices(model) -> np.ndarray:
    """Flat-buffer indices of every trainable parameter."""
    ranges = [np.arange(start, stop) for start, stop in model.net().segments()]
    return np.concatenate(ranges) if ranges else np.zeros(0, np.int64)
