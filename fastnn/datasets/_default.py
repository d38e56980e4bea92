"""The embedded default data set: UCI optical-recognition handwritten digits (8x8 images).

The data ship inside the package as data/digits.npz (see data/README.md for the source,
licence and format). The train/test split is stored in the file, not drawn at load time,
so it is the same on every machine and with every NumPy version.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_default"]

DATA_FILE = "digits.npz"
MAX_PIXEL = 16  # each pixel counts the set bits in a 4x4 block of the 32x32 scan
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_default() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the bundled handwritten digits: 1,797 8x8 images of the digits 0-9.

    The split is fixed: a stratified 80/20 split, 1,437 training and 360 test samples,
    each class keeping its share; rows keep the order of the original file.

    Returns (X_train, y_train), (X_test, y_test): X float32 in [0, 1] of shape (n, 64)
    (row-major 8x8 images, pixel counts 0..16 divided by 16), y int64 in 0..9.
    """
    resource = resources.files("fastnn.datasets").joinpath("data").joinpath(DATA_FILE)
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        images, labels, is_test = npz["images"], npz["labels"], npz["is_test"]
    X = images.astype(np.float32) / np.float32(MAX_PIXEL)
    y = labels.astype(np.int64)
    return (X[~is_test], y[~is_test]), (X[is_test], y[is_test])


def _build(source_csv: str, target_npz: str) -> None:
    """Convert scikit-learn's digits.csv.gz (64 pixels then the label per row) to our file.

    Kept so the shipped file can be regenerated and checked; not used at run time.
    """
    from fastnn.data import train_test_split

    table = np.loadtxt(source_csv, delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1].astype(np.uint8), table[:, -1].astype(np.uint8)
    _, test_rows = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, seed=SPLIT_SEED, stratify=labels
    )
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_rows] = True
    np.savez_compressed(target_npz, images=images, labels=labels, is_test=is_test)
