"""The command line: ``fastnn train``, ``fastnn info``, ``fastnn bench``, ``fastnn
playground`` (and ``python -m fastnn``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__

# Per data set: a network and schedule that train it well and fast. Any flag overrides.
# Fashion-MNIST: AdamW with a cosine decay on standardized pixels reaches 0.90 in 12
# epochs; Adam at a constant rate on [0, 1] pixels stays near 0.887 (README, "The command
# line").
RECIPES = {
    "default": {"hidden": (64,), "epochs": 40, "batch_size": 32, "lr": 2e-3},
    "digits": {"hidden": (64,), "epochs": 40, "batch_size": 32, "lr": 2e-3},
    "fashion-mnist": {
        "hidden": (256, 128),
        "epochs": 12,
        "batch_size": 256,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "schedule": "cosine",
        "standardize": True,
        "dropout": 0.05,
    },
    "mnist": {"hidden": (256, 128), "epochs": 10, "batch_size": 128, "lr": 1e-3},
    "xor": {"hidden": (8,), "epochs": 200, "batch_size": 16, "lr": 1e-2},
    "spiral": {"hidden": (64, 64), "epochs": 200, "batch_size": 32, "lr": 1e-2},
    "circles": {"hidden": (16,), "epochs": 100, "batch_size": 16, "lr": 1e-2},
    "gaussians": {"hidden": (16,), "epochs": 50, "batch_size": 16, "lr": 1e-2},
}
FALLBACK = {
    "hidden": (64,),
    "epochs": 20,
    "batch_size": 32,
    "lr": 1e-3,
    "optimizer": "adam",
    "weight_decay": None,
    "schedule": "constant",
    "standardize": False,
    "dropout": 0.0,
}
SCHEDULES = ("constant", "cosine")


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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number; got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is in [0, 65535]; got {value}")
    return value


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
        "--optimizer",
        default=None,
        choices=optimizers.NAMES,
        help="optimizer (default: the recipe's, else adam)",
    )
    train.add_argument("--lr", type=float, default=None, help="learning rate")
    train.add_argument(
        "--schedule",
        default=None,
        choices=SCHEDULES,
        help="learning rate per epoch: constant, or cosine from --lr down to 0 over the "
        "epochs (default: the recipe's, else constant)",
    )
    train.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="decoupled weight decay of adamw (default: the recipe's, else 0.004)",
    )
    train.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on features scaled to zero mean and unit variance (the scaling is then "
        "folded into the first layer, so the model takes the data set's own inputs)",
    )
    train.add_argument("--epochs", type=_positive_int, default=None, help="epochs")
    train.add_argument("--batch-size", type=_positive_int, default=None, help="batch size")
    train.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="dropout rate after each hidden layer (default: the recipe's, else 0)",
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
    train.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="floating-point type of the weights and the arithmetic (default float32)",
    )
    train.add_argument(
        "--precision",
        default="float32",
        choices=["float32", "bf16", "mixed_bfloat16"],
        help="matrix products in float32, or with bfloat16 inputs and float32 sums (bf16, "
        "as torch.autocast; Keras's name mixed_bfloat16 too); weights stay float32",
    )
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
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the MPI job this runs in (mpiexec -n N python -m fastnn "
        "train --distributed ...; needs fastnn[mpi]); --batch-size is the global batch, "
        "rank 0 prints and saves",
    )
    train.add_argument("--save", metavar="PATH", default=None, help="save the trained model")
    train.add_argument(
        "--plot",
        metavar="PNG",
        default=None,
        help="write the loss curve to a PNG (needs matplotlib)",
    )

    commands.add_parser("info", help="version, backend, SIMD level, OpenMP, threads")
    playground = commands.add_parser(
        "playground",
        help="a Neural Network Playground in the browser, training on fastnn "
        "(pip install 'fastnn[playground]')",
        description="Serve the playground on 127.0.0.1, print its URL and open it in a "
        "browser; Ctrl-C stops it.",
    )
    playground.add_argument(
        "--port",
        type=_port,
        default=None,
        help="port to listen on (default 8765, or a free one if it is taken; 0: any free one)",
    )
    playground.add_argument(
        "--no-browser", action="store_true", help="only print the URL; open no browser"
    )
    commands.add_parser(
        "bench",
        help="compare fastnn with NumPy, PyTorch, JAX, ... (fastnn bench --help)",
        add_help=False,
    )
    return parser


def _setting(args: argparse.Namespace, recipe: dict, name: str):
    """The flag's value where given, else the recipe's."""
    value = getattr(args, name)
    return recipe[name] if value is None else value


def _optimizer(name: str, lr, weight_decay: float | None):
    import fastnn as fn

    cls = type(fn.optimizers.get(name))
    if weight_decay is None:
        return cls(lr=lr)
    if cls is not fn.optimizers.AdamW:
        raise ValueError(f"--weight-decay applies to adamw only; the optimizer is {name}")
    return cls(lr=lr, weight_decay=weight_decay)


def _products(fn, model) -> str:
    """ ", bf16 products (level amx)" for a bf16 model: which kernels run them."""
    if model.precision == "float32":
        return ""
    level = "NumPy reference" if model.backend == "numpy" else f"level {fn.info()['bf16']}"
    return f", {model.precision} products ({level})"


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before training, not after it, where --save or --plot cannot be written."""
    from pathlib import Path

    from .io import check_writable

    if args.save:
        check_writable(Path(args.save))
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError as error:
            raise ValueError("--plot needs matplotlib: pip install 'fastnn[plot]'") from error
        folder = Path(args.plot).parent
        if not folder.is_dir():
            raise FileNotFoundError(f"--plot {args.plot}: the folder {folder} does not exist")


def _rank(args: argparse.Namespace) -> int:
    """This process's MPI rank with --distributed (initialising MPI), else 0."""
    if not getattr(args, "distributed", False):
        return 0
    import fastnn.distributed as fnd

    return fnd.rank()


def train(args: argparse.Namespace) -> int:
    import fastnn as fn

    rank = _rank(args)
    say = print if rank == 0 else _silent
    _check_outputs(args)
    recipe = {**FALLBACK, **RECIPES.get(args.dataset, {})}
    hidden = _setting(args, recipe, "hidden")
    epochs = _setting(args, recipe, "epochs")
    batch_size = _setting(args, recipe, "batch_size")
    lr = _setting(args, recipe, "lr")
    name = _setting(args, recipe, "optimizer")
    schedule = _setting(args, recipe, "schedule")
    standardize = _setting(args, recipe, "standardize")
    dropout = _setting(args, recipe, "dropout")
    weight_decay = args.weight_decay
    if weight_decay is None and name == recipe["optimizer"]:
        weight_decay = recipe["weight_decay"]  # the recipe's, for the recipe's optimizer
    if args.threads:
        fn.set_num_threads(args.threads)

    (X, y), (X_test, y_test) = fn.datasets.load(args.dataset)
    n_classes = int(max(y.max(), y_test.max())) + 1
    layers: list = []
    for units in hidden:
        layers.append(fn.Dense(units, args.activation))
        if dropout > 0:
            layers.append(fn.Dropout(dropout))
    layers.append(fn.Dense(n_classes, "softmax"))
    model = fn.Model(
        layers,
        input_dim=X.shape[1],
        seed=args.seed,
        dtype=args.dtype,
        backend=args.backend,
        precision=args.precision,
    )
    rate = fn.schedules.CosineDecay(lr, epochs) if schedule == "cosine" else lr
    optimizer = _optimizer(name, rate, weight_decay)
    if args.distributed:
        import fastnn.distributed as fnd

        optimizer = fnd.DistributedOptimizer(optimizer)
    model.compile(loss="cross_entropy", optimizer=optimizer, metrics=["accuracy"])
    say(
        f"fastnn {fn.__version__}: {args.dataset} ({X.shape[0]} train / {X_test.shape[0]} "
        f"test, {X.shape[1]} features, {n_classes} classes)"
    )
    decay = f", weight decay {weight_decay:g}" if weight_decay is not None else ""
    ranks = f", {fnd.size()} MPI ranks (global batch)" if args.distributed else ""
    say(
        f"network {X.shape[1]}-{'-'.join(map(str, hidden))}-{n_classes} {args.activation}, "
        f"{name} lr {lr:g} {schedule}{decay}, batch {batch_size}, {epochs} epochs, "
        f"{'standardized' if standardize else 'raw'} inputs, dropout {dropout:g}, "
        f"backend {model.backend}, {fn.get_num_threads()} thread(s){ranks}{_products(fn, model)}"
    )
    started = time.perf_counter()
    X_fit, mean, std = fn.data.standardize(X) if standardize else (X, None, None)
    history = model.fit(
        X_fit,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=args.verbose if rank == 0 else 0,
        validation_split=args.validation_split,
    )
    if standardize:
        fn.data.fold_standardization(model, mean, std)
    seconds = time.perf_counter() - started
    result = model.evaluate(X_test, y_test)
    say(
        f"test accuracy {result['accuracy']:.4f}  test loss {result['loss']:.4f}  "
        f"({seconds:.2f} s training)"
    )
    if args.save:
        model.save(args.save)  # with --distributed, rank 0 writes
        say(f"saved the model to {args.save}")
    if args.plot and rank == 0:
        from . import plot

        plot.history(history).savefig(args.plot, dpi=100)
        print(f"wrote the loss curve to {args.plot}")
    return 0


def _silent(*args, **kwargs) -> None:
    pass


def info() -> int:
    import fastnn as fn

    for key, value in fn.info().items():
        print(f"{key:18s} {value}")
    return 0


def _playground(args: argparse.Namespace) -> int:
    from . import playground

    try:
        playground.require_web_library()
    except ImportError as missing:  # the extra is not installed: say which
        raise RuntimeError(str(missing)) from None
    return playground.main(args.port, open_browser=not args.no_browser)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the benchmark has its own options: hand them all over
        from . import bench_cli

        return bench_cli.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return train(args)
        if args.command == "playground":
            return _playground(args)
        return info()
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        if getattr(args, "distributed", False):
            _distributed_error(args, error)
        print(f"fastnn {args.command}: error: {error}", file=sys.stderr)
        return 2


def _distributed_error(args, error: Exception) -> None:
    """Under MPI an error on one rank must end the job (the others would wait for it):
    MPI_Abort after the message. An error every rank raised (ranks that disagree) is
    printed by rank 0 alone, and every rank exits with status 2."""
    from .distributed import world

    job = world()
    if job.size == 1:
        return
    if getattr(error, "collective", False):
        if job.rank != 0:
            raise SystemExit(2)
        return
    job.abort(f"fastnn {args.command}: error: {error}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
