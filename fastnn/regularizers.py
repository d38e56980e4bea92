"""Kernel regularizers: a penalty l1 * sum|W| + l2 * sum W² added to the loss.

As in Keras, ``Dense(..., kernel_regularizer="l2")`` uses 0.01, and
``fn.regularizers.L2(1e-4)`` sets the factor; biases are not regularized.
"""

from __future__ import annotations

from typing import Union


class Regularizer:
    """The penalty l1 * sum|W| + l2 * sum W² on a Dense layer's kernel."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        for name, value in (("l1", l1), ("l2", l2)):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"regularizer {name} must be a number >= 0; got {value!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def get_config(self) -> dict:
        """The regularizer's configuration as plain data."""
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"Regularizer(l1={self.l1}, l2={self.l2})"


def L1(l1: float = 0.01) -> Regularizer:
    """The penalty l1 * sum|W|."""
    return Regularizer(l1=l1)


def L2(l2: float = 0.01) -> Regularizer:
    """The penalty l2 * sum W² (weight decay coupled to the loss)."""
    return Regularizer(l2=l2)


def L1L2(l1: float = 0.0, l2: float = 0.0) -> Regularizer:
    """The penalty l1 * sum|W| + l2 * sum W²."""
    return Regularizer(l1=l1, l2=l2)


RegularizerLike = Union[str, Regularizer, None]


def get(identifier: RegularizerLike) -> Regularizer | None:
    """The regularizer for "l1", "l2", "l1_l2" (factor 0.01), a Regularizer, or None."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key == "l1":
            return L1()
        if key == "l2":
            return L2()
        if key in ("l1l2", "l1_l2"):
            return L1L2(0.01, 0.01)
        raise ValueError(f"unknown regularizer {identifier!r}; expected 'l1', 'l2' or 'l1_l2'")
    raise TypeError(
        f"kernel_regularizer must be 'l1', 'l2', an fn.regularizers.Regularizer or None; "
        f"got {type(identifier).__name__}"
    )
