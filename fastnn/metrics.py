"""Metrics: accuracy, mse, mae, and a confusion matrix.

During fit and evaluate a metric is averaged over the samples; a metric is the pair
(sum over a batch, count), so that running means are exact whatever the batch size.
The sums are the active backend's (backend.metric_sum, or inside its training step);
the functions here compute them with the NumPy reference, for plain arrays.
"""

from __future__ import annotations

import numpy as np

from .backends import reference
from .backends.spec import Metric

NAMES = ("accuracy", "mse", "mae")
_ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}


def canonical_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a metric must be a name (str); got {type(name).__name__}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in NAMES:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(NAMES)}")
    return key


def code(name: str, binary: bool) -> Metric:
    """The backend's code for metric ``name`` (canonical); ``binary``: the model's outputs
    are thresholded (one unit, or sigmoid outputs), see accuracy_sum."""
    if name == "accuracy":
        return Metric.BINARY_ACCURACY if binary else Metric.ACCURACY
    return Metric.MSE if name == "mse" else Metric.MAE


def accuracy_sum(pred: np.ndarray, y: np.ndarray, binary: bool) -> float:
    """Correct predictions in a batch.

    ``binary`` (one output, or sigmoid outputs with binary cross-entropy): each output
    thresholded at 0.5 against targets thresholded at 0.5, averaged over the outputs.
    Otherwise: argmax of the outputs against integer labels or the argmax of the targets.
    """
    return reference.metric_sum(code("accuracy", binary), pred, y)


def mse_sum(pred: np.ndarray, y: np.ndarray, binary: bool = False) -> float:
    return reference.metric_sum(Metric.MSE, pred, y)


def mae_sum(pred: np.ndarray, y: np.ndarray, binary: bool = False) -> float:
    return reference.metric_sum(Metric.MAE, pred, y)


def accuracy(y_true, y_pred) -> float:
    """Fraction of correct predictions (y_pred: model outputs or labels)."""
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if pred.ndim == 1 and true.ndim == 1 and pred.dtype.kind in "iub":
        return float((pred == true).mean())
    pred = pred.reshape(pred.shape[0], -1)
    return accuracy_sum(pred, true, binary=pred.shape[1] == 1) / pred.shape[0]


def mse(y_true, y_pred) -> float:
    pred = np.asarray(y_pred, dtype=np.float64)
    pred = pred.reshape(pred.shape[0], -1)
    return mse_sum(pred, np.asarray(y_true)) / pred.shape[0]


def mae(y_true, y_pred) -> float:
    pred = np.asarray(y_pred, dtype=np.float64)
    pred = pred.reshape(pred.shape[0], -1)
    return mae_sum(pred, np.asarray(y_true)) / pred.shape[0]


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] of samples of true class i predicted as class j (scikit-learn's
    orientation). y_pred may be labels or per-class scores (argmax is taken)."""
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1) if pred.shape[1] > 1 else (pred[:, 0] > 0.5)
    if true.ndim == 2:
        true = true.argmax(axis=1) if true.shape[1] > 1 else true[:, 0]
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same number of samples; got {true.shape[0]} "
            f"and {pred.shape[0]}"
        )
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and (not np.all(np.mod(labels, 1) == 0) or labels.min() < 0):
            raise ValueError(f"{name} must hold integer class labels >= 0")
    true = true.astype(np.int64)
    pred = pred.astype(np.int64)
    k = n_classes or int(max(true.max(initial=-1), pred.max(initial=-1)) + 1)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (true, pred), 1)
    return counts
