"""Training rows that stay in their file until a batch needs them.

``Rows`` wraps an array that supports row indexing, typically an ``np.memmap`` of an
uncompressed IDX file (``fn.datasets.open_idx``) or of a raw array file. A rank reads
only the rows of its part of each batch, converted to the model's dtype as
``(value - shift) / divisor``; no rank ever holds the whole set. An ``np.memmap``
given to fit directly behaves like ``Rows(memmap)``.
"""

from __future__ import annotations

import math

import numpy as np


class Rows:
    """Rows of ``source`` (n_rows, ...) read on demand: ``Rows(open_idx(p), divisor=255)``
    gives the pixels in [0, 1], bit for bit the values ``load_fashion_mnist`` returns.
    Each row is flattened to one feature vector."""

    def __init__(self, source, shift: float = 0.0, divisor: float = 1.0) -> None:
        if not hasattr(source, "shape") or not hasattr(source, "dtype") or len(source.shape) < 1:
            raise TypeError(
                "Rows needs an array or np.memmap of shape (n_rows, ...); "
                f"got {type(source).__name__}"
            )
        if np.dtype(source.dtype).kind not in "biuf":
            raise TypeError(f"Rows needs real numbers; got dtype {source.dtype}")
        for name, value in (("shift", shift), ("divisor", divisor)):
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        if divisor == 0:
            raise ValueError("divisor must not be 0")
        self.source = source
        self.shift = float(shift)
        self.divisor = float(divisor)
        self.n_rows = int(source.shape[0])
        self.n_features = int(math.prod(source.shape[1:]))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_features)

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, rows) -> Rows:
        """A slice of the rows (no data read): what a validation split keeps."""
        if not isinstance(rows, slice):
            raise TypeError("Rows can be sliced (rows[a:b]); read(rows, out) gathers rows")
        return Rows(self.source[rows], self.shift, self.divisor)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every row, read and converted (float64 unless ``dtype``): a single process
        given Rows trains on them in memory."""
        out = np.empty(self.shape, np.float64 if dtype is None else dtype)
        return self.read(slice(0, self.n_rows), out)

    def read(self, rows, out: np.ndarray, name: str = "X") -> np.ndarray:
        """Rows ``rows`` (a slice or an index array) into ``out[:len]``, converted and
        checked finite; returns that view of ``out``."""
        taken = self.source[rows]
        count = taken.shape[0]
        view = out[:count]
        np.copyto(view, taken.reshape(count, self.n_features), casting="unsafe")
        if self.shift:
            view -= self.shift
        if self.divisor != 1.0:
            view /= self.divisor
        if view.dtype.kind == "f" and not np.isfinite(view).all():
            raise ValueError(f"{name} contains NaN or infinite values in this batch's rows")
        return view

    def __repr__(self) -> str:
        return (
            f"Rows({type(self.source).__name__} of shape {tuple(self.source.shape)}, "
            f"shift={self.shift:g}, divisor={self.divisor:g})"
        )
