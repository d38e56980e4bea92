"""Activations by name: each knows its kernel code and its parameter.

``Dense(..., activation="relu")`` looks the name up here; parameterised ones can be
given as objects, e.g. ``activation=fn.activations.LeakyReLU(alpha=0.2)``. Calling an
activation applies it with the NumPy reference (handy for checking by hand).
"""

from __future__ import annotations

from typing import Union

import numpy as np

from .backends import reference
from .backends.spec import Act


class Activation:
    """A named elementwise (or, for softmax, row-wise) function with its kernel code."""

    def __init__(self, name: str, code: Act, param: float = 0.0) -> None:
        self.name = name
        self.code = code
        self.param = float(param)

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        rows = np.atleast_2d(z)
        return reference.act_forward(self.code, rows, self.param).reshape(z.shape)

    def get_config(self) -> dict:
        """The activation's configuration as plain data."""
        return {"name": self.name}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_config().items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LeakyReLU(Activation):
    """max(z, alpha * z) for 0 <= alpha < 1."""

    def __init__(self, alpha: float = 0.01) -> None:
        if not (isinstance(alpha, (int, float)) and 0 <= alpha < 1):
            raise ValueError(f"LeakyReLU alpha must be a number in [0, 1); got {alpha!r}")
        super().__init__("leaky_relu", Act.LEAKY_RELU, alpha)

    def get_config(self) -> dict:
        return {"name": self.name, "alpha": self.param}

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.param})"


class ELU(Activation):
    """z for z > 0, alpha * (exp(z) - 1) otherwise, alpha > 0."""

    def __init__(self, alpha: float = 1.0) -> None:
        if not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(f"ELU alpha must be a number > 0; got {alpha!r}")
        super().__init__("elu", Act.ELU, alpha)

    def get_config(self) -> dict:
        return {"name": self.name, "alpha": self.param}

    def __repr__(self) -> str:
        return f"ELU(alpha={self.param})"


def _simple(name: str, code: Act) -> Activation:
    return Activation(name, code)


_FACTORIES = {
    "linear": lambda: _simple("linear", Act.LINEAR),
    "relu": lambda: _simple("relu", Act.RELU),
    "leaky_relu": LeakyReLU,
    "sigmoid": lambda: _simple("sigmoid", Act.SIGMOID),
    "tanh": lambda: _simple("tanh", Act.TANH),
    "softmax": lambda: _simple("softmax", Act.SOFTMAX),
    "elu": ELU,
    "gelu": lambda: _simple("gelu", Act.GELU),
    "softplus": lambda: _simple("softplus", Act.SOFTPLUS),
    "step": lambda: _simple("step", Act.STEP),
}
_ALIASES = {"identity": "linear", "none": "linear", "logistic": "sigmoid", "heaviside": "step"}

NAMES = tuple(_FACTORIES)

ActivationLike = Union[str, Activation, None]


def get(identifier: ActivationLike) -> Activation:
    """The Activation for a name, an Activation, or None (linear)."""
    if identifier is None:
        return _FACTORIES["linear"]()
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        key = _ALIASES.get(key, key)
        if key in _FACTORIES:
            return _FACTORIES[key]()
        raise ValueError(f"unknown activation {identifier!r}; expected one of {', '.join(NAMES)}")
    if isinstance(identifier, type) and issubclass(identifier, Activation):
        name = identifier.__name__
        raise TypeError(
            f"activation is the class {name}, not an activation; pass an instance, "
            f"activation=fn.activations.{name}(), or a name such as 'relu'"
        )
    raise TypeError(
        f"activation must be a name (str), an fn.activations.Activation or None; "
        f"got {type(identifier).__name__}"
    )


def from_config(config: dict) -> Activation:
    """The activation a get_config() dict describes."""
    config = dict(config)
    name = config.pop("name")
    if name == "leaky_relu":
        return LeakyReLU(**config)
    if name == "elu":
        return ELU(**config)
    return get(name)
