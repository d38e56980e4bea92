"""Fashion-MNIST to 0.89+ test accuracy with a 784-256-128-10 ReLU network.

Ten classes of 28x28 clothing images (60,000 for training, 10,000 for testing). The
network, Adam with a cosine-decayed learning rate from 1e-3, batches of 128 and 10 epochs
reach 0.89-0.895 test accuracy; the script prints per-epoch progress, the test accuracy
and the pair of classes most often mixed up.

    python examples/fashion_mnist.py [--fast]

The data are read where fn.datasets.load_fashion_mnist looks ($FASTNN_DATA/fashion-mnist,
or Debian's dataset-fashion-mnist package). --fast trains on 5,000 images for 2 epochs;
without the files, it uses the embedded 8x8 digits instead, saying so.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import fastnn as fn

CLASSES = (
    "T-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
)
TARGET = 0.89


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1",
        help="a quick run on a subset (also FASTNN_EXAMPLES_FAST=1)",
    )
    args = parser.parse_args(argv)
    try:
        (X, y), (X_test, y_test) = fn.datasets.load_fashion_mnist()
    except FileNotFoundError as error:
        if not args.fast:
            print(error, file=sys.stderr)
            return 1
        print(f"Fashion-MNIST not found ({error}); using the embedded digits")
        (X, y), (X_test, y_test) = fn.datasets.load_default()
    if args.fast:
        X, y, X_test, y_test = X[:5000], y[:5000], X_test[:2000], y_test[:2000]

    model = fn.Model(
        [fn.Dense(256, "relu"), fn.Dense(128, "relu"), fn.Dense(10, "softmax")],
        seed=0,
    )
    epochs = 2 if args.fast else 10
    # The learning rate falls from 1e-3 to 0 along a cosine over the run: the last
    # epochs polish rather than bounce (about +0.5% test accuracy over a constant rate).
    schedule = fn.schedules.CosineDecay(1e-3, decay_steps=epochs)
    model.compile("cross_entropy", fn.optimizers.Adam(lr=schedule), metrics=["accuracy"])
    model.fit(X, y, epochs=epochs, batch_size=128, verbose=2)
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(f"test accuracy {accuracy:.4f} ({len(X)} training images, backend {model.backend})")

    confusion = fn.metrics.confusion_matrix(y_test, model.predict(X_test), n_classes=10)
    np.fill_diagonal(confusion, 0)
    true, predicted = np.unravel_index(confusion.argmax(), confusion.shape)
    if X.shape[1] == 784:
        print(
            f"most confused: {CLASSES[true]} taken for {CLASSES[predicted]} "
            f"{confusion[true, predicted]} times"
        )
    if args.fast:
        return 0
    print("reached" if accuracy >= TARGET else "below", f"the {TARGET} target")
    return 0 if accuracy >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
