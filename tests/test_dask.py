"""Sweeps on Dask: scikit-learn searches of fastnn's estimators under joblib's "dask"
backend, on a distributed.LocalCluster this test starts (two worker processes), give
the serial search's results, and every worker runs fastnn on its share of the cores."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sweeps need scikit-learn (fastnn[dask])")
distributed = pytest.importorskip("distributed", reason="Dask is not installed (fastnn[dask])")
joblib = pytest.importorskip("joblib")

from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402

import fastnn as fn  # noqa: E402
import fastnn.dask  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

CORES = len(os.sched_getaffinity(0))
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _digits():
    (X, y), _ = fn.datasets.load_default()
    return X[:360], y[:360]


def _on_dask(search, X, y):
    with distributed.get_task_stream() as tasks, joblib.parallel_backend("dask"):
        search.fit(X, y)
    assert len(tasks.data) >= search.n_splits_  # the fits really ran on the workers
    return search


def _same_results(serial, parallel):
    assert parallel.best_params_ == serial.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(parallel.cv_results_[key], serial.cv_results_[key])
    assert [str(p) for p in parallel.cv_results_["params"]] == [
        str(p) for p in serial.cv_results_["params"]
    ]


def test_workers_times_threads_never_exceed_the_cores(client):
    threads = fastnn.dask.set_worker_threads(client)
    assert len(threads) == 2
    slots = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
    assert all(t >= 1 for t in threads.values())
    assert sum(threads.values()) <= max(CORES, slots)  # one thread each at the least
    assert all(t == max(1, CORES // slots) for t in threads.values())
    assert fastnn.dask.set_worker_threads(client, threads=1) == dict.fromkeys(threads, 1)


def test_grid_search_on_dask_equals_the_serial_search(client):
    X, y = _digits()
    grid = {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-2]}

    def search(n_jobs=None):
        estimator = MLPClassifier(max_iter=8, random_state=0, batch_size=32)
        return GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)

    serial = search().fit(X, y)
    _same_results(serial, _on_dask(search(n_jobs=-1), X, y))


def test_randomized_search_of_a_regressor_on_dask_equals_the_serial_search(client):
    X, y = _digits()
    target = X[:, :4].sum(axis=1) + 0.1 * y
    space = {"learning_rate_init": [1e-3, 3e-3, 1e-2], "hidden_layer_sizes": [(8,), (24,)]}

    def search(n_jobs=None):
        estimator = MLPRegressor(max_iter=6, random_state=1, batch_size=40)
        return RandomizedSearchCV(estimator, space, n_iter=4, cv=2, random_state=3, n_jobs=n_jobs)

    serial = search().fit(X, target)
    _same_results(serial, _on_dask(search(n_jobs=-1), X, target))


def test_the_plugin_refuses_bad_thread_counts(client):
    with pytest.raises(ValueError, match="threads"):
        fastnn.dask.set_worker_threads(client, threads=0)
