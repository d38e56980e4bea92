"""The command line: ``fastnn train``, ``fastnn info``, ``fastnn bench`` (and
``python -m fastnn``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__

# Per data set: a network and schedule that train it well and fast. Any flag overrides.
RECIPES = {
    "default": {"hidden": (64,), "epochs": 40, "batch_size": 32, "lr": 2e-3},
    "digits": {"hidden": (64,), "epochs": 40, "batch_size": 32, "lr": 2e-3},
    "fashion-mnist": {"hidden": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "mnist": {"hidden": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "xor": {"hidden": (8,), "epochs": 200, "batch_size": 16, "lr": 1e-2},
    "spiral": {"hidden": (64, 64), "epochs": 200, "batch_size": 32, "lr": 1e-2},
    "circles": {"hidden": (16,), "epochs": 100, "batch_size": 16, "lr": 1e-2},
    "gaussians": {"hidden": (16,), "epochs": 50, "batch_size": 16, "lr": 1e-2},
}
FALLBACK = {"hidden": (64,), "epochs": 20, "batch_size": 32, "lr": 1e-3}


def _hidden_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden takes comma-separated layer sizes such as 256,128; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be >= 1; got {text!r}")
    return sizes


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from . import activations, datasets, optimizers

    parser = argparse.ArgumentParser(
        prog="fastnn", description="Train and inspect multilayer perceptrons on the CPU."
    )
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train an MLP on a data set and print the test accuracy",
        description="Train an MLP (softmax output, cross-entropy) on a named data set, print "
        "per-epoch progress and the final test accuracy. Unset options take the data set's "
        "recipe (see --help of each option).",
    )
    train.add_argument(
        "--dataset",
        default="default",
        choices=datasets.available(),
        help="data set (default: the embedded 8x8 digits)",
    )
    train.add_argument(
        "--hidden",
        type=_hidden_sizes,
        default=None,
        help="hidden layer sizes, comma-separated (e.g. 256,128)",
    )
    train.add_argument(
        "--activation",
        default="relu",
        choices=[n for n in activations.NAMES if n != "step"],
        help="hidden activation (default relu)",
    )
    train.add_argument(
        "--optimizer", default="adam", choices=optimizers.NAMES, help="optimizer (default adam)"
    )
    train.add_argument("--lr", type=float, default=None, help="learning rate")
    train.add_argument("--epochs", type=_positive_int, default=None, help="epochs")
    train.add_argument("--batch-size", type=_positive_int, default=None, help="batch size")
    train.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="dropout rate after each hidden layer (default 0)",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument(
        "--backend",
        default=None,
        choices=["native", "numpy"],
        help="kernels to run on (default native)",
    )
    train.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="threads for the native kernels (default: all cores)",
    )
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    train.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        help="fraction of the training data held out for validation",
    )
    train.add_argument(
        "--verbose",
        type=int,
        default=2,
        choices=[0, 1, 2],
        help="0 silent, 1 progress bar, 2 one line per epoch (default)",
    )
    train.add_argument("--save", metavar="PATH", default=None, help="save the trained model")
    train.add_argument(
        "--plot",
        metavar="PNG",
        default=None,
        help="write the loss curve to a PNG (needs matplotlib)",
    )

    commands.add_parser("info", help="version, backend, SIMD level, OpenMP, threads")
    commands.add_parser(
        "bench",
        help="compare fastnn with NumPy, PyTorch, JAX, ... (fastnn bench --help)",
        add_help=False,
    )
    return parser


def train(args: argparse.Namespace) -> int:
    import fastnn as fn

    recipe = {**FALLBACK, **RECIPES.get(args.dataset, {})}
    hidden = args.hidden or recipe["hidden"]
    epochs = args.epochs or recipe["epochs"]
    batch_size = args.batch_size or recipe["batch_size"]
    lr = args.lr if args.lr is not None else recipe["lr"]
    if args.threads:
        fn.set_num_threads(args.threads)

    (X, y), (X_test, y_test) = fn.datasets.load(args.dataset)
    n_classes = int(max(y.max(), y_test.max())) + 1
    layers: list = []
    for units in hidden:
        layers.append(fn.Dense(units, args.activation))
        if args.dropout > 0:
            layers.append(fn.Dropout(args.dropout))
    layers.append(fn.Dense(n_classes, "softmax"))
    model = fn.Model(
        layers, input_dim=X.shape[1], seed=args.seed, dtype=args.dtype, backend=args.backend
    )
    optimizer = fn.optimizers.get(args.optimizer)
    model.compile(loss="cross_entropy", optimizer=type(optimizer)(lr=lr), metrics=["accuracy"])
    print(
        f"fastnn {fn.__version__}: {args.dataset} ({X.shape[0]} train / {X_test.shape[0]} "
        f"test, {X.shape[1]} features, {n_classes} classes)"
    )
    print(
        f"network {X.shape[1]}-{'-'.join(map(str, hidden))}-{n_classes} {args.activation}, "
        f"{args.optimizer} lr {lr:g}, batch {batch_size}, {epochs} epochs, "
        f"backend {model.backend}, {fn.get_num_threads()} thread(s)"
    )
    started = time.perf_counter()
    history = model.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=args.verbose,
        validation_split=args.validation_split,
    )
    seconds = time.perf_counter() - started
    result = model.evaluate(X_test, y_test)
    print(
        f"test accuracy {result['accuracy']:.4f}  test loss {result['loss']:.4f}  "
        f"({seconds:.2f} s training)"
    )
    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")
    if args.plot:
        from . import plot

        plot.history(history).savefig(args.plot, dpi=100)
        print(f"wrote the loss curve to {args.plot}")
    return 0


def info() -> int:
    import fastnn as fn

    for key, value in fn.info().items():
        print(f"{key:18s} {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the benchmark has its own options: hand them all over
        from . import bench_cli

        return bench_cli.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return train(args) if args.command == "train" else info()
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as error:
        print(f"fastnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
