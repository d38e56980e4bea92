"""Data sets: the bundled default, MNIST-format files, and 2-D playground generators.

Loaders return `(X_train, y_train), (X_test, y_test)` with X float32 of shape
(n, features) and y int64 class labels; generators return `(X, y)`.
"""

from ._default import load_default
from ._idx import load_idx, open_idx
from ._mnist import load_fashion_mnist, load_mnist
from ._playground import make_circles, make_gaussians, make_spiral, make_xor
from ._registry import available, load

__all__ = [
    "available",
    "load",
    "load_default",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist",
    "make_circles",
    "make_gaussians",
    "make_spiral",
    "make_xor",
    "open_idx",
]
