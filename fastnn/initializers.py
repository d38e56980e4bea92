"""Weight initializers: ``init(shape, rng, dtype)`` -> array, fans taken from the shape.

Values are drawn in float64 from the model's generator and then rounded to the model's
dtype, so a float32 and a float64 model with the same seed start from the same weights.
The normal variants are truncated at two standard deviations, as in Keras.
"""

from __future__ import annotations

from typing import Callable, Union

import numpy as np


class Initializer:
    """Base class: subclasses define ``sample(shape, rng)`` in float64."""

    name = "initializer"

    def __call__(self, shape: tuple, rng: np.random.Generator, dtype="float64") -> np.ndarray:
        return self.sample(tuple(shape), rng).astype(dtype)

    def sample(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        """An array of the given shape drawn from rng (float64)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The initializer's configuration as plain data."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(shape: tuple, std: float, rng: np.random.Generator) -> np.ndarray:
    """N(0, std²) redrawn outside ±2 std, then rescaled so the std is still ``std``."""
    # 0.8796... is the std of a standard normal truncated to [-2, 2].
    scale = std / 0.87962566103423978
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values * scale


class _VarianceScaling(Initializer):
    def __init__(self, name: str, scale: float, fan: str, uniform: bool) -> None:
        self.name, self.scale, self.fan, self.uniform = name, scale, fan, uniform

    def sample(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        fan = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[self.fan]
        variance = self.scale / max(fan, 1)
        if self.uniform:
            limit = np.sqrt(3 * variance)
            return rng.uniform(-limit, limit, shape)
        return _truncated_normal(shape, np.sqrt(variance), rng)

    def __repr__(self) -> str:
        return f"initializers.get({self.name!r})"


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)
        self.name = {0.0: "zeros", 1.0: "ones"}.get(self.value, "constant")

    def sample(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict:
        if self.name == "constant":
            return {"name": "constant", "value": self.value}
        return {"name": self.name}


class RandomNormal(Initializer):
    """N(mean, std²), not truncated (``fn.initializers.normal(std)``)."""

    name = "normal"

    def __init__(self, std: float = 0.05, mean: float = 0.0) -> None:
        if not (isinstance(std, (int, float)) and std >= 0):
            raise ValueError(f"normal std must be a number >= 0; got {std!r}")
        self.std, self.mean = float(std), float(mean)

    def sample(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.std, shape)

    def get_config(self) -> dict:
        return {"name": "normal", "std": self.std, "mean": self.mean}

    def __repr__(self) -> str:
        return f"normal(std={self.std})"


def normal(std: float = 0.05, mean: float = 0.0) -> RandomNormal:
    """Weights drawn from a normal distribution N(mean, std²)."""
    return RandomNormal(std, mean)


_FACTORIES: dict[str, Callable[[], Initializer]] = {
    "glorot_uniform": lambda: _VarianceScaling("glorot_uniform", 1.0, "avg", True),
    "glorot_normal": lambda: _VarianceScaling("glorot_normal", 1.0, "avg", False),
    "he_uniform": lambda: _VarianceScaling("he_uniform", 2.0, "in", True),
    "he_normal": lambda: _VarianceScaling("he_normal", 2.0, "in", False),
    "lecun_normal": lambda: _VarianceScaling("lecun_normal", 1.0, "in", False),
    "lecun_uniform": lambda: _VarianceScaling("lecun_uniform", 1.0, "in", True),
    "zeros": lambda: Constant(0.0),
    "ones": lambda: Constant(1.0),
    "normal": RandomNormal,
}
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal", "zero": "zeros"}
NAMES = tuple(_FACTORIES)

InitializerLike = Union[str, Initializer]


def get(identifier: InitializerLike) -> Initializer:
    """The initializer for a name (see NAMES) or an Initializer (returned as it is)."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        key = _ALIASES.get(key, key)
        if key in _FACTORIES:
            return _FACTORIES[key]()
        raise ValueError(f"unknown initializer {identifier!r}; expected one of {', '.join(NAMES)}")
    raise TypeError(
        f"initializer must be a name (str) or an fn.initializers.Initializer; "
        f"got {type(identifier).__name__}"
    )


def from_config(config: dict) -> Initializer:
    """The initializer a get_config() dict describes."""
    config = dict(config)
    name = config.pop("name")
    if name == "normal":
        return RandomNormal(**config)
    if name == "constant":
        return Constant(**config)
    return get(name)
