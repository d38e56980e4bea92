"""fastnn: multilayer perceptrons on the CPU, fast and readable.

import fastnn as fn
model = fn.Model([fn.Dense(128, "relu"), fn.Dense(10, "softmax")], seed=0)
model.compile(loss="cross_entropy", optimizer=fn.optimizers.Adam(1e-3), metrics=["accuracy"])
model.fit(X, y, epochs=5, batch_size=128)
"""

from . import (
    activations,
    callbacks,
    data,
    datasets,
    initializers,
    losses,
    metrics,
    optimizers,
    regularizers,
    schedules,
)
from ._version import __version__
from .backends import backend, set_backend
from .gradcheck import gradient_check
from .io import ModelFileError, load_model
from .layers import Dense, Dropout, Layer
from .model import Model
from .perceptron import Perceptron
from .runtime import get_num_threads, info, set_num_threads

# Submodules loaded on first attribute access: fn.plot, fn.sklearn, fn.dask and
# fn.distributed need optional extras, so `import fastnn` must not import them.
_LAZY_SUBMODULES = ("dask", "distributed", "plot", "sklearn")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_SUBMODULES])


__all__ = [
    "Dense",
    "Dropout",
    "Layer",
    "Model",
    "ModelFileError",
    "Perceptron",
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "data",
    "datasets",
    "get_num_threads",
    "gradient_check",
    "info",
    "initializers",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "schedules",
    "set_backend",
    "set_num_threads",
]
