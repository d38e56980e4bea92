"""An MLP separates three interleaved spirals; the script draws the decision boundary.

The spiral (from Stanford's CS231n) is a standard test that a model can carve curved,
nested regions: a linear classifier gets about a third right, a 2-64-64-3 ReLU network
nearly all. The script prints training and test accuracy and writes the boundary and the
learning curves as PNGs.

    python examples/spiral.py [boundary.png] [--fast]

The PNG path defaults to a temporary folder; the learning curves are written next to it
(``*-history.png``). The pictures need the
``plot`` extra (matplotlib); without it the script only trains and says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import fastnn as fn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", nargs="?", type=Path, help="where to write the boundary")
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1",
        help="a quick run (also FASTNN_EXAMPLES_FAST=1)",
    )
    args = parser.parse_args(argv)
    png = args.png or Path(tempfile.mkdtemp(prefix="fastnn-")) / "spiral.png"

    X, y = fn.datasets.make_spiral(600, noise=0.05, n_classes=3, seed=0)
    X_train, X_test, y_train, y_test = fn.data.train_test_split(X, y, test_size=0.25, seed=0)
    model = fn.Model([fn.Dense(64, "relu"), fn.Dense(64, "relu"), fn.Dense(3, "softmax")], seed=0)
    model.compile("cross_entropy", fn.optimizers.Adam(lr=0.01), metrics=["accuracy"])
    history = model.fit(
        X_train,
        y_train,
        epochs=60 if args.fast else 200,
        batch_size=32,
        validation_data=(X_test, y_test),
        verbose=0,
    )
    train, test = history.history["accuracy"][-1], history.history["val_accuracy"][-1]
    print(f"spiral: training accuracy {train:.3f}, test accuracy {test:.3f}")

    status = 0 if test > 0.9 else 1
    if not _have_matplotlib():
        print("no pictures: they need matplotlib (pip install 'fastnn[plot]')")
        return status
    fn.plot.decision_boundary(model, X, y, title="three spirals").savefig(png, dpi=100)
    curves = png.with_name(f"{png.stem}-history.png")
    fn.plot.history(history).savefig(curves, dpi=100)
    print(f"wrote {png} and {curves}")
    return status


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
