"""The playground's data: 2-D points from fastnn's generators, and the input features.

Classification uses fastnn's own generators (``fn.datasets.make_circles`` and friends),
two classes each; regression uses the two surfaces below. Every set is drawn on the
square [-DOMAIN, DOMAIN]^2, as the TensorFlow Playground draws its own: the generators'
shapes span about [-1, 1], so their points are multiplied by SCALE (XOR's corners at 0
and 1 are first moved to -1 and 1, so that it is centred like the others and x1 * x2
separates it). ``python_code`` (fastnn.playground.code) writes these same steps out.
"""

from __future__ import annotations

import numpy as np

from .. import datasets

N_POINTS = 500
SCALE = 4.0
DOMAIN = 6.0

# Each feature's NumPy expression of x1 and x2: what the page labels it, how the session
# computes it, and what "show code" prints (a test checks the two agree to the bit).
FEATURE_EXPRESSIONS = {
    "x1": "x1",
    "x2": "x2",
    "x1_squared": "x1 * x1",
    "x2_squared": "x2 * x2",
    "x1_times_x2": "x1 * x2",
    "sin_x1": "np.sin(x1)",
    "sin_x2": "np.sin(x2)",
}
_FEATURES = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_squared": lambda x1, x2: x1 * x1,
    "x2_squared": lambda x1, x2: x2 * x2,
    "x1_times_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}


def features(points: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The chosen features of points (n, 2) as float32 columns, in the order given."""
    x1, x2 = points[:, 0], points[:, 1]
    return np.column_stack([_FEATURES[name](x1, x2) for name in names]).astype(np.float32)


def make_points(dataset: str, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(points (N_POINTS, 2) float32 on the playground's scale, targets (N_POINTS,)).

    Targets are class labels 0/1 (int64) for classification, values in about [-1, 1]
    (float32) for regression."""
    if dataset == "circle":
        X, y = datasets.make_circles(N_POINTS, noise=noise, seed=seed)
    elif dataset == "xor":
        X, y = datasets.make_xor(N_POINTS, noise=noise, seed=seed)
        X = 2 * X - 1
    elif dataset == "gaussian":
        X, y = datasets.make_gaussians(N_POINTS, noise=noise, n_classes=2, seed=seed)
    elif dataset == "spiral":
        X, y = datasets.make_spiral(N_POINTS, noise=noise, n_classes=2, seed=seed)
    elif dataset == "plane":
        X, y = make_plane(N_POINTS, noise=noise, seed=seed)
    elif dataset == "multi_gaussian":
        X, y = make_multi_gaussian(N_POINTS, noise=noise, seed=seed)
    else:
        raise ValueError(f"unknown playground data set {dataset!r}")
    return SCALE * X, y


# --------------------------------------------------------------------------- regression
# Two surfaces over the square [-1, 1]^2, as in the TensorFlow Playground; `noise` is
# the standard deviation of Gaussian noise added to the target.

BUMPS = ((-0.6, 0.6, 1.0), (0.6, -0.6, 1.0), (0.6, 0.6, -1.0), (-0.6, -0.6, -1.0))
BUMP_WIDTH = 0.35


def make_plane(n_samples: int, noise: float = 0.0, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on [-1, 1]^2 and targets (x1 + x2) / 2 (+ noise)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = X.sum(axis=1) / 2
    return _finish(X, y, noise, rng)


def make_multi_gaussian(
    n_samples: int, noise: float = 0.0, seed=None
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on [-1, 1]^2; targets a sum of four round bumps of height +-1."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = np.zeros(n_samples)
    for cx, cy, height in BUMPS:
        distance2 = (X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2
        y += height * np.exp(-distance2 / (2 * BUMP_WIDTH**2))
    return _finish(X, y, noise, rng)


def _finish(X, y, noise: float, rng) -> tuple[np.ndarray, np.ndarray]:
    if noise > 0:
        y = y + noise * rng.standard_normal(y.shape)
    return X.astype(np.float32), y.astype(np.float32)


def grid(size: int) -> np.ndarray:
    """Cell centres of a size x size grid over the domain, row by row from the top
    (x2 = +DOMAIN) down, as an image is drawn: shape (size * size, 2), float32."""
    step = 2 * DOMAIN / size
    centres = -DOMAIN + step * (np.arange(size) + 0.5)
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()]).astype(np.float32)
