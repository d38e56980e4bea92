"""An MLP learns XOR, and we look at how: its decision boundary and its hidden layer.

XOR is the classic problem a single neuron cannot solve (the classes are not linearly
separable) and one hidden layer can. A 2-8-1 network (tanh, one logistic output, binary
cross-entropy) learns it from noisy points; the script prints the accuracy and writes two
pictures: the decision boundary over the plane, and the activations of every layer for
one input.

    python examples/xor.py [boundary.png] [--fast]

The PNG path defaults to a temporary folder; the activations picture is written next to
it (``*-activations.png``). The pictures need the
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
    png = args.png or Path(tempfile.mkdtemp(prefix="fastnn-")) / "xor.png"

    X, y = fn.datasets.make_xor(200, noise=0.15, seed=0)
    model = fn.Model([fn.Dense(8, "tanh"), fn.Dense(1, "sigmoid")], seed=0)
    model.compile("binary_cross_entropy", fn.optimizers.Adam(lr=0.05), metrics=["accuracy"])
    history = model.fit(X, y, epochs=40 if args.fast else 100, batch_size=16, verbose=0)
    accuracy = model.evaluate(X, y)["accuracy"]
    print(f"XOR: training accuracy {accuracy:.3f} after {len(history.epoch)} epochs")

    status = 0 if accuracy > 0.95 else 1
    if not _have_matplotlib():
        print("no pictures: they need matplotlib (pip install 'fastnn[plot]')")
        return status
    fn.plot.decision_boundary(model, X, y, title="XOR, learned").savefig(png, dpi=100)
    inside = png.with_name(f"{png.stem}-activations.png")
    fn.plot.activations(model, X[3], title=f"activations for x = {X[3].round(2)}").savefig(
        inside, dpi=100
    )
    print(f"wrote {png} and {inside}")
    return status


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
