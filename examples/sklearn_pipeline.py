"""fastnn's MLPClassifier inside scikit-learn: a Pipeline tuned by GridSearchCV.

``fastnn.sklearn.MLPClassifier`` takes scikit-learn's MLP parameters (hidden_layer_sizes,
alpha, learning_rate_init, early_stopping, ...), so it drops into scikit-learn's tools:
here a scaler + MLP pipeline whose size and L2 penalty are chosen by 3-fold
cross-validation in two worker processes, then scored on held-out digits.

    python examples/sklearn_pipeline.py [--fast]

Needs the ``sklearn`` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import fastnn as fn

try:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastnn.sklearn import MLPClassifier
except ImportError as missing:
    sys.exit(f"sklearn_pipeline.py needs scikit-learn: pip install 'fastnn[sklearn]' ({missing})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1",
        help="a quick run with a smaller grid (also FASTNN_EXAMPLES_FAST=1)",
    )
    args = parser.parse_args(argv)
    (X, y), (X_test, y_test) = fn.datasets.load_default()
    labels = [f"digit {d}" for d in range(10)]  # any label type works, strings too
    y, y_test = [labels[i] for i in y], [labels[i] for i in y_test]

    pipeline = make_pipeline(
        StandardScaler(),
        MLPClassifier(batch_size=64, max_iter=10 if args.fast else 100, random_state=0),
    )
    if args.fast:
        grid = {"mlpclassifier__hidden_layer_sizes": [(32,), (64,)]}
    else:
        grid = {
            "mlpclassifier__hidden_layer_sizes": [(32,), (128,), (128, 64)],
            "mlpclassifier__alpha": [1e-4, 1e-2, 1.0],
        }
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    print(
        f"best parameters {search.best_params_} (cross-validated accuracy {search.best_score_:.3f})"
    )
    print(f"test accuracy {search.score(X_test, y_test):.3f}")
    print("predictions:", search.predict(X_test[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
