"""fastnn.data: splitting, one-hot coding, standardization and batching."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn as fn
from fastnn.data import batches, one_hot, standardize, train_test_split


def numbered(n: int, features: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """X whose first column is the row number, so any split can be traced back."""
    X = np.arange(n * features, dtype=np.float64).reshape(n, features) // features
    return X, np.arange(n) % 3


# --------------------------------------------------------------------------- train_test_split


class TestTrainTestSplit:
    def test_returns_sklearn_order_with_rows_kept_together(self):
        X, y = numbered(20)
        X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
        assert X_train.shape == (15, 3) and X_test.shape == (5, 3)
        np.testing.assert_array_equal(y_train, X_train[:, 0].astype(int) % 3)
        np.testing.assert_array_equal(y_test, X_test[:, 0].astype(int) % 3)

    def test_without_y_returns_two_arrays(self):
        X, _ = numbered(10)
        parts = train_test_split(X, test_size=0.3, seed=1)
        assert len(parts) == 2 and parts[0].shape == (7, 3) and parts[1].shape == (3, 3)

    @pytest.mark.parametrize(("test_size", "n_test"), [(0.25, 25), (0.201, 21), (0.001, 1), (7, 7)])
    def test_size_as_fraction_rounds_up_or_as_count(self, test_size, n_test):
        X, y = numbered(100)
        _, X_test, _, y_test = train_test_split(X, y, test_size=test_size, seed=0)
        assert len(X_test) == len(y_test) == n_test

    def test_same_seed_same_split_and_seeds_differ(self):
        X, y = numbered(50)
        a = train_test_split(X, y, seed=3)
        b = train_test_split(X, y, seed=3)
        c = train_test_split(X, y, seed=4)
        for left, right in zip(a, b):
            np.testing.assert_array_equal(left, right)
        assert not np.array_equal(a[1], c[1])

    def test_accepts_a_generator_as_seed(self):
        X, y = numbered(30)
        a = train_test_split(X, y, seed=np.random.default_rng(5))
        b = train_test_split(X, y, seed=5)
        np.testing.assert_array_equal(a[0], b[0])

    def test_no_shuffle_takes_the_tail_in_order(self):
        X, y = numbered(10)
        X_train, X_test, _, _ = train_test_split(X, y, test_size=0.3, shuffle=False)
        np.testing.assert_array_equal(X_train[:, 0], np.arange(7))
        np.testing.assert_array_equal(X_test[:, 0], [7, 8, 9])

    def test_stratify_keeps_class_shares_and_mixes_classes(self):
        y = np.repeat([0, 1, 2], [60, 30, 10])
        X = np.arange(100).reshape(-1, 1)
        _, _, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
        np.testing.assert_array_equal(np.bincount(y_test), [12, 6, 2])
        np.testing.assert_array_equal(np.bincount(y_train), [48, 24, 8])
        assert not np.all(np.diff(y_test) >= 0), "test set should not come out sorted by class"

    def test_stratify_on_one_hot_rows(self):
        y = np.repeat([0, 1], [8, 12])
        X = np.zeros((20, 2))
        _, _, _, y_test = train_test_split(X, y, test_size=5, seed=0, stratify=np.eye(2)[y])
        assert np.bincount(y_test).tolist() == [2, 3]

    @given(
        n=st.integers(2, 200),
        fraction=st.floats(0.01, 0.99),
        seed=st.integers(0, 2**32 - 1),
        shuffle=st.booleans(),
    )
    @settings(max_examples=60, deadline=None)
    def test_train_and_test_partition_the_samples(self, n, fraction, seed, shuffle):
        X = np.arange(n)
        if np.ceil(fraction * n) >= n:
            return
        X_train, X_test = train_test_split(X, test_size=fraction, seed=seed, shuffle=shuffle)
        assert len(X_test) == int(np.ceil(fraction * n))
        np.testing.assert_array_equal(np.sort(np.concatenate([X_train, X_test])), X)

    @pytest.mark.parametrize(
        ("kwargs", "error", "words"),
        [
            ({"test_size": 0.0}, ValueError, "test_size"),
            ({"test_size": 1.0}, ValueError, "test_size"),
            ({"test_size": -0.5}, ValueError, "test_size"),
            ({"test_size": 0}, ValueError, "test_size"),
            ({"test_size": 10}, ValueError, "test_size"),
            ({"test_size": 0.99}, ValueError, "no training"),
            ({"test_size": True}, TypeError, "test_size"),
            ({"test_size": "half"}, TypeError, "test_size"),
            ({"stratify": np.arange(10) % 2, "shuffle": False}, ValueError, "shuffle"),
            ({"stratify": np.arange(10)}, ValueError, "only 1 sample"),
            ({"stratify": np.arange(9) % 2}, ValueError, "same number"),
        ],
    )
    def test_bad_arguments(self, kwargs, error, words):
        X, y = numbered(10)
        with pytest.raises(error, match=words):
            train_test_split(X, y, **kwargs)

    def test_bad_arrays(self):
        with pytest.raises(ValueError, match="empty"):
            train_test_split(np.zeros((0, 3)))
        with pytest.raises(ValueError, match="same number of samples"):
            train_test_split(np.zeros((5, 2)), np.zeros(4))
        with pytest.raises(ValueError, match="scalar"):
            train_test_split(3.0)


# --------------------------------------------------------------------------- one_hot


class TestOneHot:
    def test_encodes_labels(self):
        encoded = one_hot([2, 0, 1, 2])
        assert encoded.dtype == np.float32 and encoded.shape == (4, 3)
        np.testing.assert_array_equal(encoded, np.eye(3)[[2, 0, 1, 2]])

    def test_n_classes_and_dtype(self):
        encoded = one_hot(np.array([1, 1]), n_classes=4, dtype=np.float64)
        assert encoded.dtype == np.float64
        np.testing.assert_array_equal(encoded, [[0, 1, 0, 0], [0, 1, 0, 0]])

    def test_accepts_columns_whole_floats_and_bools(self):
        np.testing.assert_array_equal(one_hot(np.array([[1], [0]])), [[0, 1], [1, 0]])
        np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
        np.testing.assert_array_equal(one_hot(np.array([True, False])), [[0, 1], [1, 0]])

    @given(st.lists(st.integers(0, 20), min_size=1, max_size=50))
    def test_argmax_recovers_labels(self, labels):
        encoded = one_hot(labels)
        np.testing.assert_array_equal(encoded.argmax(axis=1), labels)
        np.testing.assert_array_equal(encoded.sum(axis=1), 1)

    @pytest.mark.parametrize(
        ("y", "kwargs", "error", "words"),
        [
            ([0, -1], {}, ValueError, ">= 0"),
            ([0.5, 1], {}, ValueError, "whole-number"),
            ([0, np.nan], {}, ValueError, "whole-number"),
            ([0, 3], {"n_classes": 3}, ValueError, "out of range"),
            ([0, 1], {"n_classes": 0}, ValueError, "n_classes"),
            ([0, 1], {"n_classes": 2.0}, TypeError, "n_classes"),
            ([], {}, ValueError, "empty"),
            ([[0, 1], [1, 0]], {}, ValueError, "1-D"),
            (["a", "b"], {}, TypeError, "integer"),
        ],
    )
    def test_bad_labels(self, y, kwargs, error, words):
        with pytest.raises(error, match=words):
            one_hot(np.array(y), **kwargs)


# --------------------------------------------------------------------------- standardize


class TestStandardize:
    def test_zero_mean_unit_std_and_statistics_returned(self):
        X = np.random.default_rng(0).normal(5.0, 3.0, size=(500, 4))
        Z, mean, std = standardize(X)
        np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-12)
        np.testing.assert_allclose(mean, X.mean(axis=0))
        np.testing.assert_allclose(std, X.std(axis=0))

    def test_test_set_reuses_training_statistics(self):
        rng = np.random.default_rng(1)
        X_train, X_test = rng.normal(size=(50, 3)), rng.normal(size=(10, 3))
        _, mean, std = standardize(X_train)
        Z_test, mean_again, std_again = standardize(X_test, mean, std)
        np.testing.assert_allclose(Z_test, (X_test - mean) / std)
        np.testing.assert_array_equal(mean_again, mean)
        np.testing.assert_array_equal(std_again, std)

    def test_constant_feature_becomes_zero_without_warnings(self):
        X = np.column_stack([np.full(7, 0.1), np.arange(7.0)])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            Z, mean, std = standardize(X)
            Z_given, _, std_given = standardize(X, [0.0, 0.0], [0.0, 2.0])
        np.testing.assert_array_equal(Z[:, 0], 0.0)
        assert std[0] == 1.0 and mean[0] == 0.1
        np.testing.assert_array_equal(std_given, [1.0, 2.0])
        np.testing.assert_array_equal(Z_given[:, 0], X[:, 0])

    def test_keeps_float32_and_converts_integers(self):
        Z, mean, std = standardize(np.ones((3, 2), dtype=np.float32))
        assert Z.dtype == mean.dtype == std.dtype == np.float32
        assert standardize(np.arange(6).reshape(3, 2))[0].dtype == np.float64

    @pytest.mark.parametrize(
        ("X", "mean", "std", "error", "words"),
        [
            (np.zeros((0, 2)), None, None, ValueError, "empty"),
            (np.array([[np.nan, 1.0]]), None, None, ValueError, "NaN"),
            (np.array([["a"]]), None, None, TypeError, "numbers"),
            (np.zeros((2, 2)), np.zeros(2), None, ValueError, "both"),
            (np.zeros((2, 2)), np.zeros(3), np.ones(3), ValueError, "shape"),
            (np.zeros((2, 2)), np.zeros(2), -np.ones(2), ValueError, ">= 0"),
            (np.zeros((2, 2)), np.zeros(2), np.array([1.0, np.inf]), ValueError, "infinity"),
        ],
    )
    def test_bad_input(self, X, mean, std, error, words):
        with pytest.raises(error, match=words):
            standardize(X, mean, std)


# --------------------------------------------------------------------------- batches


class TestBatches:
    def test_covers_every_sample_once_with_a_short_last_batch(self):
        X, y = numbered(10)
        parts = list(batches(X, y, batch_size=4, seed=0))
        assert [len(xb) for xb, _ in parts] == [4, 4, 2]
        rows = np.concatenate([xb[:, 0] for xb, _ in parts])
        np.testing.assert_array_equal(np.sort(rows), np.arange(10))
        for xb, yb in parts:
            np.testing.assert_array_equal(yb, xb[:, 0].astype(int) % 3)

    def test_order_follows_shuffle_and_seed(self):
        X = np.arange(12)
        in_order = np.concatenate(list(batches(X, batch_size=5, shuffle=False)))
        np.testing.assert_array_equal(in_order, X)
        first = np.concatenate(list(batches(X, batch_size=5, seed=2)))
        again = np.concatenate(list(batches(X, batch_size=5, seed=2)))
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, X)

    def test_errors_surface_at_the_call(self):
        with pytest.raises(ValueError, match="batch_size"):
            batches(np.zeros(4), batch_size=0)
        with pytest.raises(TypeError, match="batch_size"):
            batches(np.zeros(4), batch_size=2.5)
        with pytest.raises(ValueError, match="same number of samples"):
            batches(np.zeros(4), np.zeros(3))


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-4)])
def test_folded_standardization_gives_the_same_outputs(dtype, rtol):
    (X, y), (X_test, _) = fn.datasets.load_default()
    X, X_test = X.astype(dtype), X_test.astype(dtype)  # standardized in the model's dtype
    X_std, mean, std = fn.data.standardize(X)
    assert np.any(std == 1.0), "want a constant pixel (std 0 -> divided by 1) in the test"
    model = fn.Model(
        [fn.Dense(32, "relu"), fn.Dense(10, "softmax")], input_dim=64, seed=1, dtype=dtype
    )
    model.compile(loss="cross_entropy", optimizer="adam")
    model.fit(X_std, y, epochs=3, batch_size=32, verbose=0)
    expected = model.predict(fn.data.standardize(X_test, mean, std)[0])

    fn.data.fold_standardization(model, mean, std)

    np.testing.assert_allclose(model.predict(X_test), expected, rtol=rtol, atol=rtol * 1e-2)


def test_folding_needs_a_bias_and_the_statistics_of_each_feature():
    model = fn.Model([fn.Dense(3, use_bias=False), fn.Dense(2)], input_dim=4, seed=0)
    with pytest.raises(ValueError, match="bias"):
        fn.data.fold_standardization(model, np.zeros(4), np.ones(4))
    model = fn.Model([fn.Dropout(0.2), fn.Dense(2)], input_dim=4, seed=0)
    with pytest.raises(ValueError, match="std must have shape"):
        fn.data.fold_standardization(model, np.zeros(4), np.ones(3))
    before = model.predict(np.full((1, 4), 3.0))
    fn.data.fold_standardization(model, np.ones(4), np.full(4, 0.5))  # 2.5 -> (2.5 - 1) / 0.5
    np.testing.assert_allclose(model.predict(np.ones((1, 4)) * 2.5), before, rtol=1e-6)
