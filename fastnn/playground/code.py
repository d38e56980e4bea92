""" "Show code": the fastnn script that builds and trains the playground's model.

The script makes the same points, features, split, network and optimizer as the
Session and trains for as many epochs as the page has: unless a setting was changed
while training, it ends with the very weights the page shows (tests/test_playground.py
runs it and compares them bit for bit). It is laid out as black and ruff format would
lay it out, at their default line length.
"""

from __future__ import annotations

from .config import Config
from .problems import FEATURE_EXPRESSIONS, N_POINTS, SCALE

LINE = 88  # black's and ruff's default line length

_GENERATORS = {
    "circle": ("fn.datasets.make_circles", ""),
    "xor": ("fn.datasets.make_xor", ""),
    "gaussian": ("fn.datasets.make_gaussians", "n_classes=2"),
    "spiral": ("fn.datasets.make_spiral", "n_classes=2"),
    "plane": ("make_plane", ""),  # the playground's own (fastnn.playground.problems)
    "multi_gaussian": ("make_multi_gaussian", ""),
}
_LABELS = {
    "circle": "two circles",
    "xor": "XOR",
    "gaussian": "two Gaussian blobs",
    "spiral": "two spirals",
    "plane": "a plane",
    "multi_gaussian": "four Gaussian bumps",
}


def _call(head: str, arguments: list[str]) -> list[str]:
    """``head(arguments)`` on one line if it fits, else as black splits it."""
    one_line = f"{head}({', '.join(arguments)})"
    if len(one_line) <= LINE:
        return [one_line]
    inner = ", ".join(arguments)
    if len(inner) + 4 <= LINE:
        return [f"{head}(", f"    {inner}", ")"]
    return [f"{head}(", *(f"    {argument}," for argument in arguments), ")"]


def python_code(config: Config, epochs: int, model_seed: int, changed: list[str]) -> str:
    """The script, as text. ``changed``: settings the page changed while training."""
    classification = config.problem == "classification"
    sizes = "-".join(str(units) for units in config.hidden)
    hidden = f"hidden layers {sizes} {config.activation}" if sizes else "no hidden layers"
    generator, extra = _GENERATORS[config.dataset]
    lines = [
        f'"""fastnn playground: {_LABELS[config.dataset]} ({config.problem}).',
        "",
        f"Features {', '.join(config.features)}; {hidden};",
        f"{config.optimizer} lr {config.learning_rate:g}, batch {config.batch_size}, "
        f'{epochs} epochs."""',
        "",
        "import numpy as np",
        "",
        "import fastnn as fn",
    ]
    if not classification:
        lines.append(f"from fastnn.playground.problems import {generator}")
    columns = ", ".join(FEATURE_EXPRESSIONS[name] for name in config.features)
    lines += [
        "",
        "",
        "def features(X):",
        '    """The input features of points X (n, 2)."""',
        "    x1, x2 = X[:, 0], X[:, 1]",
        f"    columns = [{columns}]",
        "    return np.column_stack(columns).astype(np.float32)",
        "",
        "",
    ]
    arguments = [str(N_POINTS), f"noise={config.noise!r}", *([extra] if extra else [])]
    lines += _call(f"X, y = {generator}", [*arguments, f"seed={config.seed}"])
    if config.dataset == "xor":
        lines.append("X = 2 * X - 1  # corners at -1 and 1: centred like the other sets")
    lines.append(f"X = {SCALE!r} * X  # the playground draws every set on [-6, 6]")
    test_size = round(1 - config.train_ratio, 6)
    lines += _call(
        "X_train, X_test, y_train, y_test = fn.data.train_test_split",
        ["X", "y", f"test_size={test_size!r}", f"seed={config.seed}"],
    )
    lines += ["X_train, X_test = features(X_train), features(X_test)", ""]

    regularizer = ""
    if config.regularization != "none":
        name = config.regularization.upper()
        regularizer = f", kernel_regularizer=fn.regularizers.{name}({config.regularization_rate!r})"
    head = "sigmoid" if classification else "linear"
    lines += ["model = fn.Model(", "    ["]
    lines += [
        f'        fn.Dense({units}, "{config.activation}"{regularizer}),' for units in config.hidden
    ]
    lines += [
        f'        fn.Dense(1, "{head}"{regularizer}),',
        "    ],",
        f"    input_dim={len(config.features)},",
        f"    seed={model_seed},",
        f'    backend="{config.backend}",',
        ")",
    ]
    optimizer = {"sgd": "SGD", "adam": "Adam"}[config.optimizer]
    compile_arguments = [
        f'loss="{"binary_cross_entropy" if classification else "mse"}"',
        f"optimizer=fn.optimizers.{optimizer}(lr={config.learning_rate!r})",
    ]
    if classification:
        compile_arguments.append('metrics=["accuracy"]')
    lines += _call("model.compile", compile_arguments)
    if changed:
        lines += [
            f"# The page changed {', '.join(changed)} while training; this script uses",
            "# the current values throughout, so it ends near the page's weights, not on them.",
        ]
    lines += _call(
        "model.fit",
        ["X_train", "y_train", f"epochs={epochs}", f"batch_size={config.batch_size}", "verbose=0"],
    )
    lines += [
        "print(model.evaluate(X_test, y_test))  # the loss here includes any L1/L2 penalty",
        'model.save("playground.fnn")  # fn.load_model("playground.fnn") reads it back',
        "",
    ]
    return "\n".join(lines)
