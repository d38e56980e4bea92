"""Transfer learning: reuse hidden layers trained on five classes to learn five others.

A 784-256-128-5 network learns Fashion-MNIST classes 0-4 (T-shirt, trouser, pullover,
dress, coat). Its hidden layers are then frozen (``layer.trainable = False``), its head
replaced (``model.pop()``, then ``model.add(fn.Dense(5, "softmax"))``) and only the new
head, 645 parameters, trained on a few hundred images of classes 5-9 (sandal, shirt,
sneaker, bag, ankle boot). Finally everything is unfrozen and fine-tuned at a low
learning rate. The script prints each stage's test accuracy next to a network trained
from scratch on the same few images.

How much carries over depends on how alike the two sets of classes are: clothes and
footwear share only low-level features, so here the frozen features alone fall short of
training from scratch (about 0.83 against 0.90), and fine-tuning narrows the gap.

Without the Fashion-MNIST files the embedded 8x8 digits stand in (digits 0-4, then 5-9).

    python examples/transfer_learning.py [--fast]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import fastnn as fn


def load():
    try:
        return "Fashion-MNIST", fn.datasets.load_fashion_mnist()
    except FileNotFoundError:
        return "the embedded digits", fn.datasets.load_default()


def classes(X, y, first: int, n: int | None = None):
    """The rows of classes first..first+4, relabelled 0..4 (the first n of them)."""
    rows = np.flatnonzero((y >= first) & (y < first + 5))[:n]
    return X[rows], y[rows] - first


def train(model, X, y, lr: float, epochs: int) -> None:
    model.compile("cross_entropy", fn.optimizers.Adam(lr=lr), metrics=["accuracy"])
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0)


def network() -> list:
    return [fn.Dense(256, "relu"), fn.Dense(128, "relu"), fn.Dense(5, "softmax")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("FASTNN_EXAMPLES_FAST") == "1",
        help="a quick run on subsets (also FASTNN_EXAMPLES_FAST=1)",
    )
    args = parser.parse_args(argv)
    name, ((X, y), (X_test, y_test)) = load()
    base_rows, base_epochs, epochs = (2000, 2, 10) if args.fast else (None, 5, 20)
    if args.fast:
        X_test, y_test = X_test[:2000], y_test[:2000]

    # 1. Learn classes 0-4.
    model = fn.Model(network(), seed=0)
    train(model, *classes(X, y, 0, base_rows), lr=1e-3, epochs=base_epochs)
    first = model.evaluate(*classes(X_test, y_test, 0))["accuracy"]
    print(f"{name}, classes 0-4: test accuracy {first:.3f}")

    # 2. Freeze the hidden layers, swap the head, train only the head on classes 5-9.
    X_new, y_new = classes(X, y, 5, 300)
    test_new = classes(X_test, y_test, 5)
    for layer in model.layers:
        layer.trainable = False
    model.pop()
    model.add(fn.Dense(5, "softmax", name="new_head"))
    train(model, X_new, y_new, lr=1e-2, epochs=epochs)
    head_only = model.evaluate(*test_new)["accuracy"]
    model.summary()

    # 3. Unfreeze and fine-tune everything, gently.
    for layer in model.layers:
        layer.trainable = True
    train(model, X_new, y_new, lr=1e-4, epochs=epochs)
    fine_tuned = model.evaluate(*test_new)["accuracy"]

    # 4. The same few images, from scratch.
    scratch = fn.Model(network(), seed=0)
    train(scratch, X_new, y_new, lr=1e-3, epochs=2 * epochs)
    from_scratch = scratch.evaluate(*test_new)["accuracy"]

    print(f"classes 5-9 from {len(X_new)} images, test accuracy:")
    print(f"  frozen features + new head {head_only:.3f}")
    print(f"  then fine-tuned            {fine_tuned:.3f}")
    print(f"  from scratch               {from_scratch:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
