"""fastnn.datasets: IDX files, MNIST-style loaders, the embedded default, generators, registry."""

from __future__ import annotations

import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn.datasets as ds

# Type code of each IDX dtype, written out here independently of the reader's own table.
IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim])
    sizes = struct.pack(f">{array.ndim}I", *array.shape)
    return header + sizes + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --------------------------------------------------------------------------- load_idx


class TestLoadIdx:
    @pytest.mark.parametrize("dtype", list(IDX_CODES))
    @pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
    def test_round_trip_every_type(self, tmp_path, dtype, compress):
        info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
        array = np.array([[info.min, 0, 1], [info.max, 2, 3]], dtype=dtype)
        loaded = ds.load_idx(write_idx(tmp_path / "a.idx", array, compress))
        assert loaded.dtype == dtype and loaded.dtype.isnative
        np.testing.assert_array_equal(loaded, array)
        loaded[0, 0] = 0  # a private, writable copy

    @given(
        array=hnp.arrays(
            dtype=st.sampled_from(list(IDX_CODES)),
            shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
        ),
        compress=st.booleans(),
    )
    @settings(max_examples=40, deadline=None)
    def test_round_trip_any_shape(self, tmp_path_factory, array, compress):
        path = write_idx(tmp_path_factory.mktemp("idx") / "a", array, compress)
        loaded = ds.load_idx(str(path))
        assert loaded.shape == array.shape
        np.testing.assert_array_equal(loaded, array)

    @pytest.mark.parametrize(
        ("corrupt", "words"),
        [
            (lambda good: b"", "bad magic.*empty file"),
            (lambda good: b"PK\x03\x04" + good[4:], "not an IDX file"),
            (lambda good: b"\0\0\x07\x02" + good[4:], "not an IDX file"),
            (lambda good: b"\0\0\x08\x00" + good[4:], "not an IDX file"),
            (lambda good: good[:6], "truncated IDX header"),
            (lambda good: good[:-1], "truncated.*shape \\(2, 3\\)"),
            (lambda good: good + b"\0", "trailing bytes"),
            (lambda good: good[:4] + b"\xff" * 4 + good[8:], "truncated"),
        ],
        ids=[
            "empty",
            "zip",
            "type-code",
            "no-dims",
            "short-header",
            "short-data",
            "trailing",
            "huge-size",
        ],
    )
    @pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
    def test_corrupt_file_names_file_and_problem(self, tmp_path, corrupt, words, compress):
        good = idx_bytes(np.arange(6, dtype=np.int16).reshape(2, 3))
        bad = corrupt(good)
        path = tmp_path / "broken.idx"
        path.write_bytes(gzip.compress(bad) if compress else bad)
        with pytest.raises(ValueError, match=words) as caught:
            ds.load_idx(path)
        assert "broken.idx" in str(caught.value)

    def test_damaged_gzip_stream(self, tmp_path):
        packed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
        truncated = tmp_path / "truncated.gz"
        truncated.write_bytes(packed[: len(packed) // 2])
        flipped = tmp_path / "flipped.gz"
        flipped.write_bytes(packed[:-8] + bytes(8))  # wrong CRC and length
        for path in (truncated, flipped):
            with pytest.raises(ValueError, match=f"{path.name}.*gzip"):
                ds.load_idx(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            ds.load_idx(tmp_path / "nothing")


# --------------------------------------------------------------------------- MNIST-style loaders

STEMS = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


def fake_mnist(folder: Path, n_train: int = 6, n_test: int = 4, compress: bool = True) -> Path:
    """Four small IDX files named as in the MNIST distributions."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        np.arange(n_train, dtype=np.uint8) % 10,
        rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        np.arange(n_test, dtype=np.uint8) % 10,
    ]
    suffix = ".gz" if compress else ""
    for stem, array in zip(STEMS, arrays):
        write_idx(folder / f"{stem}{suffix}", array, compress)
    return folder


class TestMnistLoaders:
    @pytest.mark.parametrize("compress", [True, False], ids=["gz", "plain"])
    @pytest.mark.parametrize("loader", [ds.load_mnist, ds.load_fashion_mnist])
    def test_reads_a_folder(self, tmp_path, loader, compress):
        (X_train, y_train), (X_test, y_test) = loader(fake_mnist(tmp_path, compress=compress))
        assert X_train.shape == (6, 784) and X_test.shape == (4, 784)
        assert X_train.dtype == np.float32 and y_train.dtype == np.int64
        assert 0.0 <= X_train.min() and X_train.max() <= 1.0
        np.testing.assert_array_equal(y_test, [0, 1, 2, 3])
        raw = ds.load_idx(tmp_path / (STEMS[0] + (".gz" if compress else "")))
        np.testing.assert_allclose(X_train * 255, raw.reshape(6, -1), atol=1e-4)

    @pytest.mark.parametrize(
        ("loader", "name"), [(ds.load_mnist, "mnist"), (ds.load_fashion_mnist, "fashion-mnist")]
    )
    def test_finds_files_under_fastnn_data(self, tmp_path, monkeypatch, loader, name):
        fake_mnist(tmp_path / name, n_train=3)
        monkeypatch.setenv("FASTNN_DATA", str(tmp_path))
        (X_train, _), _ = loader()
        assert X_train.shape == (3, 784)

    def test_not_found_says_where_it_looked_and_how_to_get_it(self, tmp_path, monkeypatch):
        (tmp_path / "fashion-mnist").mkdir()
        monkeypatch.setenv("FASTNN_DATA", str(tmp_path))
        with pytest.raises(FileNotFoundError) as caught:
            ds.load_fashion_mnist(tmp_path / "elsewhere")
        assert "elsewhere: no such folder" in str(caught.value)
        assert "apt-get install dataset-fashion-mnist" in str(caught.value)

        with pytest.raises(FileNotFoundError) as caught:
            ds.load_mnist()
        message = str(caught.value)
        assert str(tmp_path / "mnist") in message and "FASTNN_DATA" in message

        monkeypatch.delenv("FASTNN_DATA")
        with pytest.raises(FileNotFoundError, match="FASTNN_DATA is not set"):
            ds.load_mnist()

    def test_partial_folder_lists_missing_files(self, tmp_path):
        fake_mnist(tmp_path)
        (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(FileNotFoundError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
            ds.load_mnist(tmp_path)

    def test_mismatched_labels(self, tmp_path):
        fake_mnist(tmp_path)
        write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), compress=True)
        with pytest.raises(ValueError, match="expected 4 labels"):
            ds.load_mnist(tmp_path)

    @pytest.mark.skipif(
        not SYSTEM_FASHION.is_dir(),
        reason=f"Fashion-MNIST is not in {SYSTEM_FASHION}: apt-get install dataset-fashion-mnist",
    )
    def test_installed_fashion_mnist(self, monkeypatch):
        monkeypatch.delenv("FASTNN_DATA", raising=False)
        (X_train, y_train), (X_test, y_test) = ds.load_fashion_mnist()
        assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
        assert X_train.dtype == X_test.dtype == np.float32
        assert y_train.dtype == y_test.dtype == np.int64
        assert X_train.min() == 0.0 and X_train.max() == 1.0
        np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
        np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)


# --------------------------------------------------------------------------- load_default


class TestLoadDefault:
    def test_shapes_types_and_range(self):
        (X_train, y_train), (X_test, y_test) = ds.load_default()
        assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
        assert X_train.dtype == X_test.dtype == np.float32
        assert y_train.dtype == y_test.dtype == np.int64
        X = np.concatenate([X_train, X_test])
        assert X.min() == 0.0 and X.max() == 1.0
        np.testing.assert_array_equal(X * 16, np.round(X * 16))  # pixel counts 0..16

    def test_same_arrays_on_every_call(self):
        first, second = ds.load_default(), ds.load_default()
        for part_first, part_second in zip(first, second):
            for a, b in zip(part_first, part_second):
                np.testing.assert_array_equal(a, b)
        first[0][0][:] = 0  # callers get their own arrays
        np.testing.assert_array_equal(ds.load_default()[0][0], second[0][0])

    def test_split_is_stratified(self):
        (_, y_train), (_, y_test) = ds.load_default()
        counts = np.bincount(np.concatenate([y_train, y_test]))
        np.testing.assert_array_equal(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        share = np.bincount(y_test) / counts
        assert np.all(np.abs(share - 0.2) < 0.01)

    def test_matches_the_source_csv(self):
        # Locate scikit-learn's copy without importing scikit-learn (seconds of start-up).
        spec = importlib.util.find_spec("sklearn")
        if spec is None or spec.origin is None:
            pytest.skip("scikit-learn, whose digits.csv.gz is the source, is not installed")
        source = np.loadtxt(Path(spec.origin).parent / "datasets/data/digits.csv.gz", delimiter=",")
        (X_train, y_train), (X_test, y_test) = ds.load_default()
        X = np.concatenate([X_train, X_test]) * 16
        y = np.concatenate([y_train, y_test])
        np.testing.assert_array_equal(sorted_rows(X, y), sorted_rows(source[:, :-1], source[:, -1]))

    def test_licence_ships_next_to_the_data(self):
        from importlib import resources

        readme = resources.files("fastnn.datasets").joinpath("data").joinpath("README.md")
        text = readme.read_text(encoding="utf-8")
        assert "CC BY 4.0" in text and "10.24432/C50P49" in text and "Alpaydin" in text


def sorted_rows(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Samples with their labels as rows, in a canonical order (splits reorder them)."""
    table = np.column_stack([X, y])
    return table[np.lexsort(table.T)]


# --------------------------------------------------------------------------- generators

GENERATORS = [ds.make_xor, ds.make_spiral, ds.make_circles, ds.make_gaussians]
N_CLASSES = {ds.make_xor: 2, ds.make_spiral: 3, ds.make_circles: 2, ds.make_gaussians: 2}


class TestGenerators:
    @pytest.mark.parametrize("make", GENERATORS)
    @pytest.mark.parametrize("n_samples", [1, 7, 300])
    def test_shapes_types_and_balanced_labels(self, make, n_samples):
        X, y = make(n_samples, seed=0)
        assert X.shape == (n_samples, 2) and X.dtype == np.float32
        assert y.shape == (n_samples,) and y.dtype == np.int64
        assert np.all(np.isfinite(X))
        counts = np.bincount(y, minlength=N_CLASSES[make])
        assert len(counts) == N_CLASSES[make] and counts.max() - counts.min() <= 1

    @pytest.mark.parametrize("make", [ds.make_spiral, ds.make_gaussians])
    def test_n_classes(self, make):
        _, y = make(100, n_classes=5, seed=0)
        np.testing.assert_array_equal(np.bincount(y), [20] * 5)

    @pytest.mark.parametrize("make", GENERATORS)
    def test_seeded(self, make):
        X1, y1 = make(50, seed=3)
        X2, y2 = make(50, seed=3)
        X3, _ = make(50, seed=4)
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(y1, y2)
        assert not np.array_equal(X1, X3)

    def test_xor_truth_table(self):
        X, y = ds.make_xor(4, noise=0)
        np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
        np.testing.assert_array_equal(y, [0, 1, 1, 0])

    def test_xor_default_clusters_are_separable_by_a_small_mlp(self):
        X, y = ds.make_xor(200, seed=0)
        corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
        nearest = np.argmin(((X[:, None, :] - corners) ** 2).sum(axis=2), axis=1)
        np.testing.assert_array_equal(np.array([0, 1, 1, 0])[nearest], y)
        assert train_tiny_mlp_accuracy(X.astype(np.float64), y) == 1.0

    def test_noise_free_shapes(self):
        X, y = ds.make_circles(40, noise=0, factor=0.3)
        radius = np.hypot(X[:, 0], X[:, 1])
        np.testing.assert_allclose(radius, np.where(y == 0, 1.0, 0.3), rtol=1e-6)
        X, y = ds.make_spiral(30, noise=0)
        radius = np.hypot(X[:, 0], X[:, 1])
        for arm in range(3):
            np.testing.assert_allclose(radius[y == arm], np.linspace(0, 1, 10), atol=1e-6)
        X, y = ds.make_gaussians(4, noise=0, n_classes=4)
        np.testing.assert_allclose(X, [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-6)

    @pytest.mark.parametrize(
        ("make", "kwargs", "error", "words"),
        [
            (ds.make_xor, {"n_samples": 0}, ValueError, "n_samples must be an integer >= 1, got 0"),
            (ds.make_xor, {"n_samples": 10.0}, TypeError, "n_samples"),
            (ds.make_xor, {"n_samples": True}, TypeError, "n_samples"),
            (ds.make_spiral, {"n_samples": 10, "noise": -0.1}, ValueError, "noise .* got -0.1"),
            (ds.make_spiral, {"n_samples": 10, "noise": float("nan")}, ValueError, "noise"),
            (ds.make_spiral, {"n_samples": 10, "noise": "low"}, TypeError, "noise"),
            (ds.make_spiral, {"n_samples": 10, "n_classes": 1}, ValueError, "n_classes .* got 1"),
            (ds.make_gaussians, {"n_samples": 10, "n_classes": 2.5}, TypeError, "n_classes"),
            (ds.make_circles, {"n_samples": 10, "factor": 1.0}, ValueError, "factor .* got 1.0"),
            (ds.make_circles, {"n_samples": 10, "factor": None}, TypeError, "factor"),
        ],
    )
    def test_bad_arguments(self, make, kwargs, error, words):
        with pytest.raises(error, match=words):
            make(**kwargs)


def train_tiny_mlp_accuracy(X: np.ndarray, y: np.ndarray) -> float:
    """Full-batch gradient descent on a 2-8-1 tanh/sigmoid network; training accuracy."""
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(0, 1, (2, 8)), np.zeros(8)
    W2, b2 = rng.normal(0, 1, (8, 1)), np.zeros(1)
    X = X - 0.5  # centre the square
    target = y[:, None].astype(np.float64)
    for _ in range(2000):
        hidden = np.tanh(X @ W1 + b1)
        prob = 1 / (1 + np.exp(-(hidden @ W2 + b2)))
        delta_out = (prob - target) / len(X)
        delta_hidden = (delta_out @ W2.T) * (1 - hidden**2)
        W2 -= 2.0 * hidden.T @ delta_out
        b2 -= 2.0 * delta_out.sum(axis=0)
        W1 -= 2.0 * X.T @ delta_hidden
        b1 -= 2.0 * delta_hidden.sum(axis=0)
    return float(np.mean((prob[:, 0] > 0.5) == y))


# --------------------------------------------------------------------------- registry


class TestRegistry:
    def test_available_names(self):
        assert ds.available() == [
            "default",
            "digits",
            "fashion-mnist",
            "mnist",
            "xor",
            "spiral",
            "circles",
            "gaussians",
        ]

    @pytest.mark.parametrize(
        ("name", "n_train", "n_test"),
        [("xor", 300, 100), ("spiral", 225, 75), ("circles", 300, 100), ("gaussians", 300, 100)],
    )
    def test_playground_names_give_a_fixed_split(self, name, n_train, n_test):
        (X_train, y_train), (X_test, _) = ds.load(name)
        assert X_train.shape == (n_train, 2) and X_test.shape == (n_test, 2)
        assert y_train.dtype == np.int64
        np.testing.assert_array_equal(ds.load(name)[1][0], X_test)

    def test_names_are_forgiving_and_options_reach_the_loader(self):
        (X_train, _), _ = ds.load("DIGITS")
        assert X_train.shape == (1437, 64)
        (X_train, _), (X_test, _) = ds.load("Spiral", n_samples=100, n_classes=4, test_size=0.5)
        assert len(X_train) == len(X_test) == 50

    def test_file_loaders_take_a_path(self, tmp_path):
        (X_train, _), _ = ds.load("fashion_mnist", path=fake_mnist(tmp_path))
        assert X_train.shape == (6, 784)

    def test_unknown_name_lists_the_valid_ones(self):
        with pytest.raises(ValueError, match=r"unknown data set 'cifar'.*default, digits"):
            ds.load("cifar")
        with pytest.raises(TypeError, match="string"):
            ds.load(3)
