"""The C kernels against the NumPy reference: same seed, same predictions, two speeds.

Two copies of one network (same seed, so the same initial weights and the same batches)
are trained, one on the native backend (fastnn's C kernels) and one on the NumPy
reference; their predictions agree to 1e-4 and the script prints training and inference
throughput side by side.

    python examples/native_vs_numpy.py [--fast]

Uses Fashion-MNIST when installed, else the embedded digits. Without a built native
backend it says so and stops.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import fastnn as fn


def timed(function, *args, **kwargs) -> tuple[object, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1",
        help="a quick run on a subset (also FASTNN_EXAMPLES_FAST=1)",
    )
    args = parser.parse_args(argv)
    if not fn.backends.native_available():
        print("the native backend is not built here (see `fastnn info`); nothing to compare")
        return 0
    try:
        (X, y), (X_test, _) = fn.datasets.load_fashion_mnist()
    except FileNotFoundError:
        (X, y), (X_test, _) = fn.datasets.load_default()
    if args.fast:
        X, y, X_test = X[:2000], y[:2000], X_test[:1000]
    epochs = 1 if args.fast else 3

    rows = []
    predictions = {}
    for backend in ("native", "numpy"):
        model = fn.Model(
            [fn.Dense(256, "relu"), fn.Dense(128, "relu"), fn.Dense(10, "softmax")],
            seed=0,
            backend=backend,
        )
        model.compile("cross_entropy", fn.optimizers.Adam(lr=1e-3))
        _, train_s = timed(model.fit, X, y, epochs=epochs, batch_size=128, verbose=0)
        predictions[backend], infer_s = timed(model.predict, X_test)
        rows.append((backend, epochs * len(X) / train_s, len(X_test) / infer_s))

    print(f"{'backend':8s} {'train samples/s':>16s} {'predict samples/s':>18s}")
    for backend, train_rate, infer_rate in rows:
        print(f"{backend:8s} {train_rate:16,.0f} {infer_rate:18,.0f}")
    print(f"native is {rows[0][1] / rows[1][1]:.1f}x the NumPy reference in training")
    difference = float(np.abs(predictions["native"] - predictions["numpy"]).max())
    print(f"largest difference between the two backends' predictions: {difference:.2e}")
    return 0 if difference < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
