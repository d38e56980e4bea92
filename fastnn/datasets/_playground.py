"""Two-dimensional toy problems in the spirit of the TensorFlow Playground.

Every generator returns (X, y): X float32 of shape (n_samples, 2), y int64 labels 0..k-1.
Sample i belongs to class (or cluster) i mod k, so classes are balanced to within one
sample and interleaved in order. `noise` is the standard deviation of the Gaussian noise
added to each coordinate; the shapes themselves span about [-1, 1] (XOR: [0, 1]), so noise
is on the same scale for all of them. The same seed gives the same data.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..data import Seed, _check_int, _check_nonnegative

__all__ = ["make_circles", "make_gaussians", "make_spiral", "make_xor"]

SPIRAL_SWEEP = 4.0  # radians each arm turns from centre to rim, as in the classic CS231n spiral


def make_xor(
    n_samples: int, noise: float = 0.1, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters at the corners of the unit square, labelled by XOR of the coordinates.

    Samples cycle through the corners (0, 0), (0, 1), (1, 0), (1, 1) with labels 0, 1, 1, 0.
    With noise=0 every point sits exactly on its corner: `make_xor(4, noise=0)` is the XOR
    truth table. The default noise (0.1, a tenth of the distance between corners) keeps
    the clusters well apart, so a small MLP can classify all points.
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    noise = _check_nonnegative(noise, "noise")
    corner = np.arange(n_samples) % 4
    bits = np.stack([corner // 2, corner % 2], axis=1)
    labels = bits[:, 0] ^ bits[:, 1]
    return _finish(bits.astype(np.float64), labels, noise, seed)


def make_spiral(
    n_samples: int, noise: float = 0.05, n_classes: int = 3, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, winding out from the centre to radius 1.

    Arm k starts at angle 2*pi*k/n_classes and turns 4 radians as its radius grows
    linearly from 0 to 1 (the classic three-arm spiral of Stanford's CS231n course).
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    noise = _check_nonnegative(noise, "noise")
    n_classes = _check_int(n_classes, "n_classes", 2)
    labels, radius = _cycle(n_samples, n_classes)
    angle = 2 * np.pi * labels / n_classes + SPIRAL_SWEEP * radius
    return _finish(_polar(radius, angle), labels, noise, seed)


def make_circles(
    n_samples: int, noise: float = 0.05, factor: float = 0.5, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 inside on radius `factor`.

    The points of each circle are evenly spaced in angle before the noise is added.
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    noise = _check_nonnegative(noise, "noise")
    factor = _check_factor(factor)
    labels, position = _cycle(n_samples, 2, endpoint=False)
    radius = np.where(labels == 0, 1.0, factor)
    return _finish(_polar(radius, 2 * np.pi * position), labels, noise, seed)


def make_gaussians(
    n_samples: int, noise: float = 0.2, n_classes: int = 2, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Round Gaussian blobs, one per class, centred evenly on the unit circle.

    `noise` is each blob's standard deviation; class k is centred at angle 2*pi*k/n_classes.
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    noise = _check_nonnegative(noise, "noise")
    n_classes = _check_int(n_classes, "n_classes", 2)
    labels = np.arange(n_samples) % n_classes
    centres = _polar(np.ones(n_samples), 2 * np.pi * labels / n_classes)
    return _finish(centres, labels, noise, seed)


def _cycle(n_samples: int, n_classes: int, endpoint: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Class i mod k of each sample, and its position along its class in [0, 1].

    With endpoint=False the positions stop one step short of 1 (for closed curves).
    """
    labels = np.arange(n_samples) % n_classes
    rank = np.arange(n_samples) // n_classes
    class_size = np.bincount(labels, minlength=n_classes)[labels]
    steps = np.maximum(class_size - 1, 1) if endpoint else class_size
    return labels, rank / steps


def _polar(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _finish(
    points: np.ndarray, labels: np.ndarray, noise: float, seed: Seed
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)  # also validates the seed when noise is 0
    if noise > 0:
        points = points + noise * rng.standard_normal(points.shape)
    return points.astype(np.float32), labels.astype(np.int64)


def _check_factor(factor: float) -> float:
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise TypeError(f"factor must be a number in [0, 1), got {factor!r}")
    if not (math.isfinite(factor) and 0 <= factor < 1):
        raise ValueError(f"factor must be a number in [0, 1) (inner radius / outer), got {factor}")
    return float(factor)
