"""Every check of user input, in one place.

Each function takes what the user gave and returns it in the one form the backends
accept (C-contiguous, the model's dtype, finite, 2-D features, int64 labels in range),
or raises ValueError/TypeError naming the argument, the value given and what was
expected. Nothing beyond this module needs to doubt its inputs.
"""

from __future__ import annotations

import math

import numpy as np

from .backends.spec import Loss

_NUMERIC_KINDS = "biuf"


def check_int(name: str, value, minimum: int, maximum: int | None = None) -> int:
    """An integer (bools refused) in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}; got {value}")
    return int(value)


def check_float(
    name: str,
    value,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in the given interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a number; got {value!r} ({type(value).__name__})")
    value = float(value)
    inside = (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high
    )
    if not math.isfinite(value) or not inside:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}; got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {', '.join(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return value


def check_dtype(value) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError as error:
        raise TypeError(f"dtype must be 'float32' or 'float64'; got {value!r}") from error
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {value!r}")
    return dtype


def _numeric_array(name: str, value) -> np.ndarray:
    """value as an ndarray of a real numeric kind (object arrays of numbers converted)."""
    if value is None:
        raise TypeError(f"{name} must be an array of numbers; got None")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {error}") from error
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must hold numbers; got an object array that does not convert "
                f"to float ({error})"
            ) from error
    if array.dtype.kind not in _NUMERIC_KINDS:
        hint = ""
        if array.dtype.kind in "USO" and name.startswith("y"):
            hint = (
                "; encode class names as integers 0..k-1, e.g. "
                "classes, y = np.unique(y, return_inverse=True), or use "
                "fastnn.sklearn.MLPClassifier, which takes labels of any type"
            )
        raise TypeError(
            f"{name} must hold real numbers (ints, bools or floats); got dtype {array.dtype}" + hint
        )
    return array


def require_finite(name: str, array: np.ndarray) -> None:
    if array.dtype.kind != "f":
        return
    # First the common case in O(1) memory: a float64 sum is finite when every value
    # is, unless it overflows. Only then, or when a value is NaN/inf, the elementwise
    # test, whose temporary (a bool per value: 47 MB for Fashion-MNIST) would otherwise
    # be the largest allocation of a whole fit.
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(np.sum(array, dtype=np.float64)):
            return
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))
        raise ValueError(
            f"{name} contains {len(bad)} NaN or infinite value(s) (first at index "
            f"{tuple(int(i) for i in bad[0])}); expected finite numbers"
        )


def _for_kernels(array: np.ndarray, dtype) -> np.ndarray:
    """array as the kernels take it: dtype, C order and aligned (a copy only when it is
    not all three already; np.ascontiguousarray alone keeps a misaligned view, e.g. one
    made by np.frombuffer at an odd offset, and the C kernels' loads require alignment)."""
    return np.require(array, dtype, requirements=["C", "A"])


def as_features(name: str, X, n_features: int | None, dtype: np.dtype) -> np.ndarray:
    """X as a C-contiguous (n_samples, n_features) array of dtype, finite, non-empty."""
    array = _numeric_array(name, X)
    if array.ndim == 1 and n_features == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        hint = ""
        if array.ndim == 1:
            hint = f"; for a single sample use {name}.reshape(1, -1)"
        elif array.ndim > 2:
            hint = f"; flatten each sample first, e.g. {name}.reshape(len({name}), -1)"
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {array.ndim}-D shape "
            f"{array.shape}{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples); expected at least one sample")
    if array.shape[1] == 0:
        raise ValueError(f"{name} has 0 features per sample; expected at least one")
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(
            f"{name} has {array.shape[1]} features per sample but the model expects "
            f"{n_features} (its input_dim)"
        )
    require_finite(name, array)
    with np.errstate(over="ignore"):  # checked just below, with a clearer message
        converted = _for_kernels(array, dtype)
    if array.dtype.kind == "f" and array.dtype.itemsize > converted.dtype.itemsize:
        require_finite(f"{name} (as {dtype})", converted)  # float64 beyond float32's range
    return converted


def is_ready_features(X, n_features: int | None, dtype: np.dtype, finite: bool = True) -> bool:
    """Whether X can go to a backend as it is: the cheap test behind predict's fast path
    (batch-1 prediction costs a few µs, so the full as_features is kept for the rest).
    finite=False leaves the NaN/inf test to a backend that makes it itself."""
    return (
        type(X) is np.ndarray
        and X.dtype == dtype
        and X.ndim == 2
        and X.shape[1] == n_features
        and X.shape[0] > 0
        and X.flags.c_contiguous
        and X.flags.aligned
        and (not finite or bool(np.isfinite(X).all()))
    )


def as_targets(name: str, y, loss: Loss, n_out: int, n_samples: int, dtype: np.dtype) -> np.ndarray:
    """y in the form the loss kernels take: int64 labels (n,) for cross-entropy given
    class indices, else a C-contiguous (n, n_out) array of dtype."""
    array = _numeric_array(name, y)
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, {n_out}); got shape {array.shape}"
        )
    if array.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but {name} has {array.shape[0]}; they must match"
        )
    require_finite(name, array)
    is_column = array.ndim == 1 or array.shape[1] == 1
    if loss == Loss.CROSS_ENTROPY and is_column and n_out > 1:
        return _labels(name, array.reshape(-1), n_out)
    regression_like = loss in (Loss.MSE, Loss.MAE, Loss.HUBER, Loss.KL_DIVERGENCE)
    if is_column and n_out > 1 and regression_like and array.dtype.kind in "iub":
        labels = _labels(name, array.reshape(-1), n_out)  # class labels against k outputs
        onehot = np.zeros((n_samples, n_out), dtype)
        onehot[np.arange(n_samples), labels] = 1
        return onehot
    if is_column and n_out == 1:
        array = array.reshape(-1, 1)
    if array.ndim == 1:
        raise ValueError(_one_target_per_sample(name, array, loss, n_out))
    if array.shape[1] != n_out:
        hint = ""
        if loss == Loss.CROSS_ENTROPY:
            hint = " or class labels of shape (n_samples,)"
        elif loss == Loss.BINARY_CROSS_ENTROPY and n_out == 1 and array.shape[1] == 2:
            hint = (
                f"; for one-hot rows of two classes give {name}[:, 1], or use "
                "Dense(2, activation='softmax') with loss='cross_entropy'"
            )
        raise ValueError(
            f"{name} has {array.shape[1]} columns but the model has {_outputs(n_out)}; "
            f"expected shape ({n_samples}, {n_out}){hint}"
        )
    if loss in (Loss.CROSS_ENTROPY, Loss.BINARY_CROSS_ENTROPY, Loss.KL_DIVERGENCE):
        if array.min() < 0 or array.max() > 1:
            raise ValueError(
                f"{name} must hold probabilities in [0, 1] for {loss.name.lower()}; got values "
                f"in [{array.min()}, {array.max()}]{_probability_hint(array, loss)}"
            )
    return _for_kernels(array, dtype)


def _outputs(n: int) -> str:
    return "1 output" if n == 1 else f"{n} outputs"


def _one_target_per_sample(name: str, array: np.ndarray, loss: Loss, n_out: int) -> str:
    """The error for y of shape (n,) against a model with n_out > 1 outputs."""
    given = (
        f"{name} has shape {array.shape} (one value per sample) but the model has {n_out} outputs"
    )
    if loss == Loss.BINARY_CROSS_ENTROPY:
        return (
            f"{given}. For class labels 0..{n_out - 1}, use a softmax head with cross-entropy: "
            f"Dense({n_out}, activation='softmax') and loss='cross_entropy'; for "
            f"{n_out} independent yes/no targets (multi-label), give {name} of shape "
            f"({array.shape[0]}, {n_out}) holding 0/1"
        )
    return f"{given}; expected shape ({array.shape[0]}, {n_out}), one column per output"


def _probability_hint(array: np.ndarray, loss: Loss) -> str:
    """Why y is outside [0, 1], where it is a common mistake."""
    integral = bool(np.all(array == np.round(array)))
    if integral and array.min() == -1 and array.max() == 1:
        return "; for labels -1/+1, give (y + 1) / 2"
    if integral and array.min() >= 0 and loss == Loss.BINARY_CROSS_ENTROPY:
        k = int(array.max()) + 1
        return (
            f"; these look like class labels 0..{k - 1}: for {k} classes use "
            f"Dense({k}, activation='softmax') with loss='cross_entropy'"
        )
    return ""


def _labels(name: str, array: np.ndarray, n_classes: int) -> np.ndarray:
    if array.dtype.kind == "f" and not np.all(array == np.round(array)):
        raise ValueError(
            f"{name} must hold integer class labels 0..{n_classes - 1}; got non-integer values"
        )
    low, high = array.min(), array.max()
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"{name} holds label {int(low if low < 0 else high)} but the model has {n_classes} "
            f"outputs; expected labels in 0..{n_classes - 1}"
        )
    return _for_kernels(array, np.int64)


def as_sample_weight(name: str, weight, n_samples: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    array = _numeric_array(name, weight)
    if array.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},); got {array.shape}")
    require_finite(name, array)
    if array.min() < 0:
        raise ValueError(f"{name} must be >= 0; got a minimum of {array.min()}")
    return _for_kernels(array, dtype)


def check_validation_split(value) -> float:
    return check_float("validation_split", value, 0.0, 1.0, high_open=True)
