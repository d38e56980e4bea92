"""The data every peer trains and predicts on, and the weights every peer starts from.

The parent process loads the data once (Fashion-MNIST where it is installed, else
random arrays of the same shapes) and writes it to a folder as .npy files; each worker
process reads the same files, so every peer sees the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_SHAPES = {"train": 60_000, "test": 10_000, "features": 784, "classes": 10}
FILES = ("X_train", "y_train", "X_test")


@dataclass
class BenchData:
    X_train: np.ndarray  # (n, 784) float32 in [0, 1], C-contiguous
    y_train: np.ndarray  # (n,) int64 labels 0..9
    X_test: np.ndarray  # (10000, 784) float32
    source: str  # what the rows are, for the report

    def save(self, folder: Path) -> None:
        for name in FILES:
            np.save(folder / f"{name}.npy", getattr(self, name))
        (folder / "source.txt").write_text(self.source)

    @classmethod
    def load(cls, folder: Path) -> BenchData:
        arrays = {name: np.load(folder / f"{name}.npy") for name in FILES}
        return cls(**arrays, source=(folder / "source.txt").read_text())


def load(kind: str = "auto", samples: int | None = None, seed: int = 0) -> BenchData:
    """Fashion-MNIST ("fashion-mnist"), random data of its shapes ("random"), or the
    former when installed and else the latter ("auto"). ``samples`` keeps the first
    that many training rows (the test set always has 10,000)."""
    if kind not in ("auto", "fashion-mnist", "random"):
        raise ValueError(f"data must be 'auto', 'fashion-mnist' or 'random'; got {kind!r}")
    data, source = None, "random data of Fashion-MNIST's shapes"
    if kind != "random":
        try:
            data = _fashion_mnist()
        except (FileNotFoundError, ImportError, AttributeError) as error:
            if kind == "fashion-mnist":
                raise
            source += f" (Fashion-MNIST not found: {error})"
    if data is None:
        data = _random(seed, source, samples or FASHION_SHAPES["train"])
    if samples is not None and samples < data.X_train.shape[0]:
        data.X_train = np.ascontiguousarray(data.X_train[:samples])
        data.y_train = np.ascontiguousarray(data.y_train[:samples])
    return data


def _fashion_mnist() -> BenchData:
    from fastnn import datasets

    (X, y), (X_test, _) = datasets.load_fashion_mnist()
    where = "Fashion-MNIST"
    return BenchData(_c(X, np.float32), _c(y, np.int64), _c(X_test, np.float32), where)


def _random(seed: int, source: str, n: int) -> BenchData:
    rng = np.random.default_rng(seed)
    n_test = FASHION_SHAPES["test"]
    d, k = FASHION_SHAPES["features"], FASHION_SHAPES["classes"]
    X = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, k, n, dtype=np.int64)
    X_test = rng.random((n_test, d), dtype=np.float32)
    return BenchData(X, y, X_test, source)


def _c(array, dtype) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=dtype)


def initial_weights(sizes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...]: Glorot-uniform W (n_in, n_out) and zero b, float32. Every
    peer starts from these, so their losses can be compared as a sanity check."""
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32))
        weights.append(np.zeros(n_out, np.float32))
    return weights
