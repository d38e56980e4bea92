"""A hyper-parameter sweep on a Dask cluster: GridSearchCV of fastnn's MLPClassifier
under joblib's "dask" backend.

Starts a LocalCluster of two single-threaded worker processes on this machine, or joins
a running cluster with ``--scheduler tcp://host:8786`` (start one with ``dask scheduler``
and ``dask worker tcp://host:8786 --nthreads 1`` on each machine). Each worker runs
fastnn on its share of its machine's cores; the results equal a serial search's.

    python examples/dask_sweep.py [--fast] [--scheduler tcp://host:8786]

Needs the ``dask`` extra (pip install 'fastnn[dask]').
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import joblib
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import fastnn as fn
import fastnn.dask
from fastnn.sklearn import MLPClassifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast", action="store_true", default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1"
    )
    parser.add_argument("--scheduler", default=None, help="a running cluster's scheduler address")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    (X, y), (X_test, y_test) = fn.datasets.load_default()
    grid = {"hidden_layer_sizes": [(32,), (64,)], "alpha": [1e-4, 1e-2]}
    if not args.fast:
        grid["learning_rate_init"] = [1e-3, 3e-3]
    estimator = MLPClassifier(max_iter=10 if args.fast else 60, random_state=0)
    search = GridSearchCV(estimator, grid, cv=3, n_jobs=-1)

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    with client:
        threads = fastnn.dask.set_worker_threads(client)
        print(f"{len(threads)} Dask workers, fastnn threads per worker: {sorted(threads.values())}")
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    print(
        f"best parameters {search.best_params_}, cross-validated accuracy {search.best_score_:.4f}"
    )
    print(f"test accuracy {search.score(X_test, y_test):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
