"""Array utilities for preparing training data: splitting, one-hot coding, scaling, batching.

Everything here is plain NumPy, works on any array-like input, and raises a ValueError or
TypeError that names the argument, the value given and what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .validation import check_int

__all__ = ["batches", "one_hot", "standardize", "train_test_split"]

Seed = Union[int, np.random.Generator, None]


# --------------------------------------------------------------------------- validation
# Shared with fastnn.datasets (package-private).


def _as_samples(a: ArrayLike, name: str) -> np.ndarray:
    """`a` as an array with at least one dimension and at least one sample."""
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError(f"{name} must be an array of samples, got a scalar {a!r}")
    if len(a) == 0:
        raise ValueError(f"{name} is empty: expected at least one sample, got shape {a.shape}")
    return a


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of samples, got {len(a)} and {len(b)}"
        )


def _as_labels(y: ArrayLike, name: str = "y") -> np.ndarray:
    """Integer class labels >= 0 as a 1-D int64 array; (n, 1) columns are flattened."""
    y = _as_samples(y, name)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {y.shape}")
    if y.dtype == bool:
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold whole-number class labels, got {y.dtype} values")
    elif y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0, got {y.min()}")
    return y.astype(np.int64, copy=False)


# --------------------------------------------------------------------------- splitting


def _count_test(n_samples: int, test_size: float) -> int:
    """Test-set size as scikit-learn computes it: a float is a fraction (rounded up)."""
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a float in (0, 1) or an int, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n_samples - 1:
            raise ValueError(
                f"test_size={n_test} must be between 1 and n_samples - 1 = {n_samples - 1}"
            )
        return n_test
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a float in (0, 1) or an int, got {test_size}")
    n_test = math.ceil(test_size * n_samples)
    if n_test >= n_samples:
        raise ValueError(
            f"test_size={test_size} leaves no training samples out of n_samples={n_samples}"
        )
    return n_test


def _stratified_test_mask(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Pick n_test samples so every class keeps its share (largest remainders get the rest)."""
    classes, class_of, counts = np.unique(labels, return_inverse=True, return_counts=True)
    class_of = class_of.reshape(-1)
    n_samples = len(labels)
    if counts.min() < 2:
        rare = classes[np.argmin(counts)]
        raise ValueError(
            f"stratify: class {rare} has only 1 sample; every class needs at least 2 "
            "to be shared between the training and the test set"
        )
    n_classes = len(classes)
    if not n_classes <= n_test <= n_samples - n_classes:
        raise ValueError(
            f"stratify: with {n_classes} classes the test set needs between {n_classes} and "
            f"{n_samples - n_classes} samples, got {n_test}"
        )
    quota = counts * (n_test / n_samples)
    per_class = np.floor(quota).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    # Stable sort: equal remainders go to the lower class, so the split is reproducible.
    per_class[np.argsort(per_class - quota, kind="stable")[:leftover]] += 1

    mask = np.zeros(n_samples, dtype=bool)
    for k, n_k in enumerate(per_class):
        members = np.flatnonzero(class_of == k)
        mask[rng.choice(members, size=n_k, replace=False)] = True
    return mask


def train_test_split(
    X: ArrayLike,
    y: ArrayLike | None = None,
    test_size: float = 0.25,
    seed: Seed = None,
    shuffle: bool = True,
    stratify: ArrayLike | None = None,
) -> tuple[np.ndarray, ...]:
    """Split samples into a training and a test set, as scikit-learn's function does.

    test_size: fraction of the samples in (0, 1) (the count is rounded up), or a count.
    seed: int, numpy Generator or None; the same seed gives the same split.
    shuffle=False takes the last samples as the test set, in order.
    stratify: class labels (usually y) whose proportions both sets keep.

    Returns (X_train, X_test), or (X_train, X_test, y_train, y_test) when y is given.
    """
    X = _as_samples(X, "X")
    if y is not None:
        y = _as_samples(y, "y")
        _check_same_length(X, y, "X", "y")
    n_samples = len(X)
    n_test = _count_test(n_samples, test_size)
    rng = np.random.default_rng(seed)

    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify requires shuffle=True")
        labels = _as_samples(stratify, "stratify")
        _check_same_length(X, labels, "X", "stratify")
        if labels.ndim > 1:  # one-hot or multi-output rows: stratify on the whole row
            labels = np.unique(labels.reshape(n_samples, -1), axis=0, return_inverse=True)[1]
        is_test = _stratified_test_mask(labels.reshape(-1), n_test, rng)
        # The mask leaves both sets in input order; shuffle them as the plain split does.
        train = rng.permutation(np.flatnonzero(~is_test))
        test = rng.permutation(np.flatnonzero(is_test))
    elif shuffle:
        order = rng.permutation(n_samples)
        test, train = order[:n_test], order[n_test:]
    else:
        train, test = np.arange(n_samples - n_test), np.arange(n_samples - n_test, n_samples)

    if y is None:
        return X[train], X[test]
    return X[train], X[test], y[train], y[test]


# --------------------------------------------------------------------------- encoding


def one_hot(
    y: ArrayLike, n_classes: int | None = None, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """Rows of zeros with a one at each sample's class: labels (n,) -> array (n, n_classes).

    n_classes defaults to the largest label + 1; labels must be whole numbers in
    [0, n_classes).
    """
    labels = _as_labels(y)
    top = int(labels.max())
    if n_classes is None:
        n_classes = top + 1
    n_classes = check_int("n_classes", n_classes, 1)
    if top >= n_classes:
        raise ValueError(f"y holds label {top}, out of range for n_classes={n_classes}")
    encoded = np.zeros((len(labels), n_classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def standardize(
    X: ArrayLike, mean: ArrayLike | None = None, std: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale every feature to zero mean and unit standard deviation.

    Fit on the training set, then reuse its statistics on the test set:

        X_train, mean, std = standardize(X_train)
        X_test, _, _ = standardize(X_test, mean, std)

    Features with a standard deviation of 0 are divided by 1 instead (the returned std
    holds the 1). Floating X keeps its dtype; anything else becomes float64.

    Returns (X_standardized, mean, std); mean and std have shape X.shape[1:].
    """
    X = _as_samples(X, "X")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
    dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)
    X = X.astype(dtype, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity")

    if (mean is None) != (std is None):
        raise ValueError("pass both mean and std (from a previous call) or neither")
    if mean is None:
        # Statistics in float64 so a float32 X does not lose digits in the sums.
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        # Rounding can leave a constant feature with a tiny nonzero std; make it exact so
        # the feature becomes 0 rather than noise blown up by the division.
        constant = np.all(X == X[0], axis=0)
        mean = np.where(constant, X[0], mean)
        std = np.where(constant, 0.0, std)
    else:
        mean = _as_statistic(mean, "mean", X.shape[1:])
        std = _as_statistic(std, "std", X.shape[1:])
        if np.any(std < 0):
            raise ValueError("std must be >= 0 for every feature")
    std = np.where(std == 0, 1.0, std)
    mean, std = mean.astype(dtype), std.astype(dtype)
    return (X - mean) / std, mean, std


def fold_standardization(model, mean: ArrayLike, std: ArrayLike) -> None:
    """Make a model trained on standardized inputs take the raw ones.

    After ``X_std, mean, std = standardize(X)`` and ``model.fit(X_std, ...)``,
    ``fold_standardization(model, mean, std)`` rewrites the first Dense layer so that
    ``model.predict(X)`` gives what ``model.predict(standardize(X, mean, std)[0])`` gave:
    x (W / std) + (b - (mean / std) W) is x' W + b for x' = (x - mean) / std (in float64,
    then stored in the model's dtype). The layer needs a bias.
    """
    from .layers import Dense

    first = next((layer for layer in model.layers if isinstance(layer, Dense)), None)
    if first is None or not model.built:
        raise ValueError("fold_standardization needs a built model with a Dense layer")
    if not first.use_bias:
        raise ValueError(
            f"the first Dense layer ({first.name!r}) has no bias to fold the mean into"
        )
    W = first.W
    mean = _as_statistic(mean, "mean", (W.shape[0],)).astype(np.float64)
    scale = 1.0 / _as_statistic(std, "std", (W.shape[0],)).astype(np.float64)
    bias = first.b - (mean * scale) @ W
    weight = W * scale[:, None]
    if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
        raise ValueError("fold_standardization: std must be nonzero (as standardize returns it)")
    first.W[...] = weight
    first.b[...] = bias


def _as_statistic(value: ArrayLike, name: str, shape: tuple[int, ...]) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one per feature), got {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} contains NaN or infinity")
    return value


# --------------------------------------------------------------------------- batching


def batches(
    X: ArrayLike,
    y: ArrayLike | None = None,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: Seed = None,
) -> Iterator[np.ndarray] | Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over one epoch in mini-batches; the last batch holds what is left over.

    Yields X batches, or (X_batch, y_batch) pairs when y is given. With shuffle=True the
    order is a fresh permutation drawn from `seed`.
    """
    X = _as_samples(X, "X")
    if y is not None:
        y = _as_samples(y, "y")
        _check_same_length(X, y, "X", "y")
    batch_size = check_int("batch_size", batch_size, 1)
    order = np.random.default_rng(seed).permutation(len(X)) if shuffle else None
    return _iterate_batches(X, y, batch_size, order)


def _iterate_batches(
    X: np.ndarray, y: np.ndarray | None, batch_size: int, order: np.ndarray | None
) -> Iterator[Any]:
    # A separate generator so that argument errors surface at the call, not at first next().
    for start in range(0, len(X), batch_size):
        rows = slice(start, start + batch_size)
        if order is not None:
            rows = order[rows]
        if y is None:
            yield X[rows]
        else:
            yield X[rows], y[rows]
