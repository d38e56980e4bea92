"""Losses by name: each knows its kernel code, its parameter and which heads it fits.

A loss object can also be called as ``loss(y_true, y_pred)`` on plain arrays (outputs
of the model, i.e. probabilities for cross-entropy), which is how the classic worked
examples are checked by hand: ``fn.losses.get("mse")([-1, -1, 0, 2], [1, 2, 0, 3])``
is 3.5.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from .backends import reference
from .backends.spec import Act, Loss, LossSpec


class LossFunction:
    """A named loss: ``spec`` is what the kernels get."""

    def __init__(self, name: str, code: Loss, param: float = 0.0) -> None:
        self.name = name
        self.code = code
        self.param = float(param)

    @property
    def spec(self) -> LossSpec:
        """What the kernels get: the loss code and its parameter."""
        return LossSpec(self.code, self.param)

    @property
    def is_classification(self) -> bool:
        """Whether the loss compares probabilities (a softmax or sigmoid head)."""
        return self.code in (Loss.CROSS_ENTROPY, Loss.BINARY_CROSS_ENTROPY, Loss.KL_DIVERGENCE)

    def check_head(self, act: Act, activation_name: str) -> None:
        """Refuse an output activation this loss is not defined on (clear error)."""
        wanted = {
            Loss.CROSS_ENTROPY: (Act.SOFTMAX, "softmax"),
            Loss.KL_DIVERGENCE: (Act.SOFTMAX, "softmax"),
            Loss.BINARY_CROSS_ENTROPY: (Act.SIGMOID, "sigmoid"),
        }.get(self.code)
        if wanted and act != wanted[0]:
            raise ValueError(
                f"loss {self.name!r} needs a {wanted[1]} output layer "
                f"(e.g. Dense(k, activation={wanted[1]!r})); the last layer's activation "
                f"is {activation_name!r}"
            )
        if act == Act.STEP:
            raise ValueError(
                "the 'step' activation has no gradient; train threshold units with "
                "fn.Perceptron, or use 'sigmoid' with binary_cross_entropy"
            )

    def __call__(self, y_true, y_pred) -> float:
        """Mean loss of predictions y_pred (model outputs) against y_true."""
        pred = np.asarray(y_pred, dtype=np.float64)
        pred = pred.reshape(pred.shape[0], -1) if pred.ndim else pred.reshape(1, 1)
        true = np.asarray(y_true)
        if self.code == Loss.CROSS_ENTROPY and true.ndim == 1 and pred.shape[1] > 1:
            true = true.astype(np.int64)
        else:
            true = true.astype(np.float64).reshape(pred.shape)
        if self.is_classification:  # from probabilities: recover logits up to a constant
            tiny = np.finfo(np.float64).tiny
            clipped = np.clip(pred, tiny, 1 - np.finfo(np.float64).epsneg)
            if self.code == Loss.BINARY_CROSS_ENTROPY:
                z, act = np.log(clipped) - np.log1p(-clipped), Act.SIGMOID
            else:
                z, act = np.log(clipped), Act.SOFTMAX
            per_sample, _ = reference.loss_terms(self.spec, act, pred, z, true)
        else:
            per_sample, _ = reference.loss_terms(self.spec, Act.LINEAR, pred, pred, true)
        return float(per_sample.mean())

    def get_config(self) -> dict:
        """The loss's configuration as plain data."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Huber(LossFunction):
    """Quadratic for |error| <= delta, linear beyond (delta 1.0 by default)."""

    def __init__(self, delta: float = 1.0) -> None:
        if not (isinstance(delta, (int, float)) and delta > 0):
            raise ValueError(f"Huber delta must be a number > 0; got {delta!r}")
        super().__init__("huber", Loss.HUBER, delta)

    def get_config(self) -> dict:
        return {"name": self.name, "delta": self.param}


_FACTORIES = {
    "mse": lambda: LossFunction("mse", Loss.MSE),
    "mae": lambda: LossFunction("mae", Loss.MAE),
    "huber": Huber,
    "cross_entropy": lambda: LossFunction("cross_entropy", Loss.CROSS_ENTROPY),
    "binary_cross_entropy": lambda: LossFunction("binary_cross_entropy", Loss.BINARY_CROSS_ENTROPY),
    "kl_divergence": lambda: LossFunction("kl_divergence", Loss.KL_DIVERGENCE),
}
# The names Keras and PyTorch users type.
_ALIASES = {
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "huber_loss": "huber",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "crossentropy": "cross_entropy",
    "ce": "cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "bce": "binary_cross_entropy",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
}

NAMES = tuple(_FACTORIES)

LossLike = Union[str, LossFunction]


def get(identifier: LossLike) -> LossFunction:
    """The loss for a name (see NAMES; Keras spellings accepted) or a LossFunction."""
    if isinstance(identifier, LossFunction):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        key = _ALIASES.get(key, key)
        if key in _FACTORIES:
            return _FACTORIES[key]()
        raise ValueError(f"unknown loss {identifier!r}; expected one of {', '.join(NAMES)}")
    if isinstance(identifier, type) and issubclass(identifier, LossFunction):
        raise TypeError(
            f"loss is the class {identifier.__name__}, not a loss; pass an instance, "
            f"loss=fn.losses.{identifier.__name__}(), or a name ({', '.join(NAMES)})"
        )
    if callable(identifier):
        own = getattr(identifier, "__module__", None) == __name__
        hint = (
            f"give compile its name instead, loss={identifier.__name__!r}"
            if own and identifier.__name__ in NAMES
            else f"custom loss functions are not supported; use one of {', '.join(NAMES)}"
        )
        raise TypeError(
            f"loss must be a name (str) or an fn.losses.LossFunction; got the function "
            f"{getattr(identifier, '__name__', identifier)!r}: {hint}"
        )
    raise TypeError(
        f"loss must be a name (str) or an fn.losses.LossFunction; got {type(identifier).__name__}"
    )


def from_config(config: dict) -> LossFunction:
    """The loss a get_config() dict describes."""
    config = dict(config)
    name = config.pop("name")
    return Huber(**config) if name == "huber" else get(name)


def mse(y_true, y_pred) -> float:
    """Mean of squared errors (no 1/2)."""
    return get("mse")(y_true, y_pred)


def mae(y_true, y_pred) -> float:
    """Mean of absolute errors."""
    return get("mae")(y_true, y_pred)
