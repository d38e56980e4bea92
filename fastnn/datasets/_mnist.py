"""Loaders for MNIST and Fashion-MNIST from the four IDX files of their distributions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._idx import PathLike, load_idx

__all__ = ["load_fashion_mnist", "load_mnist"]

Split = tuple[np.ndarray, np.ndarray]

ENV_VAR = "FASTNN_DATA"
# The names the original distributions use; the uncompressed names are accepted too.
FILE_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def load_fashion_mnist(path: PathLike | None = None) -> tuple[Split, Split]:
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 images of clothing.

    Reads the four IDX files from the folder `path`; without it, from
    `$FASTNN_DATA/fashion-mnist`, then `/usr/share/datasets/fashion-mnist`
    (Debian/Ubuntu: `apt-get install dataset-fashion-mnist`).

    Returns (X_train, y_train), (X_test, y_test): X float32 in [0, 1] of shape (n, 784),
    y int64 in 0..9.
    """
    return _load_idx_dataset(
        "fashion-mnist",
        path,
        system_folder=Path("/usr/share/datasets/fashion-mnist"),
        how_to_get="run `apt-get install dataset-fashion-mnist`, put the four files in "
        "$FASTNN_DATA/fashion-mnist, or pass their folder as path",
    )


def load_mnist(path: PathLike | None = None) -> tuple[Split, Split]:
    """Load MNIST: 60,000 training and 10,000 test 28x28 images of handwritten digits.

    Reads the four IDX files of the original distribution from the folder `path`, else
    from `$FASTNN_DATA/mnist` (no system package ships MNIST).

    Returns (X_train, y_train), (X_test, y_test): X float32 in [0, 1] of shape (n, 784),
    y int64 in 0..9.
    """
    return _load_idx_dataset(
        "mnist",
        path,
        system_folder=None,
        how_to_get="download the four IDX files of the MNIST distribution into "
        "$FASTNN_DATA/mnist, or pass their folder as path",
    )


def _load_idx_dataset(
    name: str, path: PathLike | None, system_folder: Path | None, how_to_get: str
) -> tuple[Split, Split]:
    files = _find_files(name, path, system_folder, how_to_get)
    train = _images_and_labels(files["train_images"], files["train_labels"])
    test = _images_and_labels(files["test_images"], files["test_labels"])
    return train, test


def _candidate_folders(name: str, path: PathLike | None, system_folder: Path | None) -> list[Path]:
    if path is not None:
        return [Path(path)]  # an explicit folder is the only place to look
    folders = []
    if os.environ.get(ENV_VAR):
        folders.append(Path(os.environ[ENV_VAR]) / name)
    if system_folder is not None:
        folders.append(system_folder)
    return folders


def _find_files(
    name: str, path: PathLike | None, system_folder: Path | None, how_to_get: str
) -> dict[str, Path]:
    """The four files from the first candidate folder that holds all of them."""
    folders = _candidate_folders(name, path, system_folder)
    if not folders:
        raise FileNotFoundError(
            f"{name} data not found: no path given and ${ENV_VAR} is not set. "
            f"To get it, {how_to_get}."
        )
    reports = []
    for folder in folders:
        found = {key: _existing_file(folder, stem) for key, stem in FILE_STEMS.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
        if not folder.is_dir():
            reports.append(f"  {folder}: no such folder")
        else:
            missing = [f"{FILE_STEMS[key]}[.gz]" for key, file in found.items() if file is None]
            reports.append(f"  {folder}: missing {', '.join(missing)}")
    raise FileNotFoundError(
        f"{name} data not found. Looked in:\n" + "\n".join(reports) + f"\nTo get it, {how_to_get}."
    )


def _existing_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _images_and_labels(images_path: Path, labels_path: Path) -> Split:
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (n, rows, cols), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"{labels_path}: expected {len(images)} labels to match {images_path.name}, "
            f"got shape {labels.shape}"
        )
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= 255.0
    return X, labels.astype(np.int64)
