"""Data sets by name, for the command line and for quick experiments."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..data import Seed, train_test_split
from ._default import load_default
from ._mnist import load_fashion_mnist, load_mnist
from ._playground import make_circles, make_gaussians, make_spiral, make_xor

__all__ = ["available", "load"]

Split = tuple[np.ndarray, np.ndarray]
Loader = Callable[..., tuple[Split, Split]]


def _playground(make: Callable[..., Split], default_size: int) -> Loader:
    """A loader that generates a toy problem and splits it 75/25, both seeded."""

    def load_generated(
        n_samples: int = default_size, seed: Seed = 0, test_size: float = 0.25, **params: Any
    ) -> tuple[Split, Split]:
        X, y = make(n_samples, seed=seed, **params)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, seed=seed, stratify=y
        )
        return (X_train, y_train), (X_test, y_test)

    load_generated.__doc__ = (
        f"{make.__name__}(n_samples={default_size}, seed=0, ...) split 75/25 (stratified); "
        "extra keyword arguments go to the generator."
    )
    return load_generated


_LOADERS: dict[str, Loader] = {
    "default": load_default,
    "digits": load_default,
    "fashion-mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "xor": _playground(make_xor, 400),
    "spiral": _playground(make_spiral, 300),
    "circles": _playground(make_circles, 400),
    "gaussians": _playground(make_gaussians, 400),
}


def available() -> list[str]:
    """Names that `load` accepts ("fashion-mnist" and "mnist" need their files installed)."""
    return list(_LOADERS)


def load(name: str, **options: Any) -> tuple[Split, Split]:
    """Load a data set by name: `(X_train, y_train), (X_test, y_test)`.

    Names are case-insensitive and "_" may stand for "-". Options go to the loader: `path`
    for "fashion-mnist" and "mnist"; `n_samples`, `noise`, `seed` (default 0), `test_size`
    (default 0.25) and the generator's own arguments for "xor", "spiral", "circles" and
    "gaussians", whose X are plane coordinates rather than values scaled to [0, 1].
    """
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a string, got {name!r}")
    key = name.strip().lower().replace("_", "-")
    if key not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; available: {', '.join(_LOADERS)}")
    return _LOADERS[key](**options)
