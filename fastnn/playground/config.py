"""What a learner can set in the playground, its limits, and the check of every value.

The page sends settings as JSON; ``parse`` turns a JSON object into a ``Config`` or
raises ``FieldError`` naming the first field that is wrong, what it got and what it
expects. The server answers that error with a 4xx; nothing past this module needs to
doubt a setting. Plain Python: no web library, no NumPy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_BATCH_SIZE = 100
MAX_EPOCHS_PER_FRAME = 100
MAX_RATE = 10.0  # learning and regularization rates above this only diverge
MAX_SEED = 2**31 - 1

PROBLEMS = {
    "classification": ("circle", "xor", "gaussian", "spiral"),
    "regression": ("plane", "multi_gaussian"),
}
FEATURES = ("x1", "x2", "x1_squared", "x2_squared", "x1_times_x2", "sin_x1", "sin_x2")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
OPTIMIZERS = ("sgd", "adam")
REGULARIZATIONS = ("none", "l1", "l2")
BACKENDS = ("native", "numpy")

# Which settings need new data, which a new network, and which apply to the running one.
DATA_FIELDS = frozenset({"problem", "dataset", "noise", "train_ratio", "seed"})
NETWORK_FIELDS = frozenset({"features", "hidden", "activation", "optimizer", "regularization"})
LIVE_FIELDS = frozenset(
    {"learning_rate", "regularization_rate", "batch_size", "epochs_per_frame", "backend"}
)


class FieldError(ValueError):
    """A setting that is not acceptable: ``field`` names it (e.g. ``hidden[2]``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Config:
    """One playground's settings (the defaults are the TensorFlow Playground's)."""

    problem: str = "classification"
    dataset: str = "circle"
    noise: float = 0.05
    train_ratio: float = 0.5
    batch_size: int = 10
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learning_rate: float = 0.03
    optimizer: str = "sgd"
    regularization: str = "none"
    regularization_rate: float = 0.0
    epochs_per_frame: int = 1
    backend: str = "native"

    def to_json(self) -> dict:
        """The settings as the page reads and sends them."""
        values = dataclasses.asdict(self)
        values["features"] = list(self.features)
        values["hidden"] = list(self.hidden)
        return values


FIELDS = tuple(field.name for field in dataclasses.fields(Config))


def limits() -> dict:
    """Every choice and bound, for the page to build its controls from."""
    return {
        "problems": {name: list(sets) for name, sets in PROBLEMS.items()},
        "features": list(FEATURES),
        "activations": list(ACTIVATIONS),
        "optimizers": list(OPTIMIZERS),
        "regularizations": list(REGULARIZATIONS),
        "backends": list(BACKENDS),
        "max_layers": MAX_LAYERS,
        "max_neurons": MAX_NEURONS,
        "max_batch_size": MAX_BATCH_SIZE,
        "max_epochs_per_frame": MAX_EPOCHS_PER_FRAME,
        "max_rate": MAX_RATE,
        "noise": [0.0, 0.5],
        "train_ratio": [0.1, 0.9],
    }


def parse(values: object, base: Config | None = None) -> Config:
    """``base`` (default: the defaults) with the fields in ``values`` replaced.

    ``values`` is a decoded JSON object. A change of problem without a data set picks the
    problem's first one. Raises FieldError for an unknown field or a bad value.
    """
    base = base or Config()
    if not isinstance(values, dict):
        raise FieldError("body", f"expected a JSON object of settings; got {_kind(values)}")
    for name in values:
        if name not in FIELDS:
            raise FieldError(name, f"unknown setting; expected one of {', '.join(FIELDS)}")
    changes = {name: _CHECKS[name](name, value) for name, value in values.items()}
    problem = changes.get("problem", base.problem)
    if "dataset" not in changes and base.dataset not in PROBLEMS[problem]:
        changes["dataset"] = PROBLEMS[problem][0]
    dataset = changes.get("dataset", base.dataset)
    if dataset not in PROBLEMS[problem]:
        raise FieldError(
            "dataset",
            f"{dataset!r} is not a {problem} data set; expected one of "
            f"{', '.join(PROBLEMS[problem])}",
        )
    return dataclasses.replace(base, **changes)


def changed_fields(old: Config, new: Config) -> frozenset[str]:
    return frozenset(name for name in FIELDS if getattr(old, name) != getattr(new, name))


# --------------------------------------------------------------------------- field checks


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"
    return names.get(type(value), type(value).__name__)


def _integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"expected a whole number in [{low}, {high}]; got {_kind(value)}")
    if not low <= value <= high:
        raise FieldError(field, f"expected a whole number in [{low}, {high}]; got {value}")
    return value


def _number(field: str, value: object, low: float, high: float, low_open: bool = False) -> float:
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(field, f"expected a number in {interval}; got {_kind(value)}")
    number = float(value)
    inside = (number > low if low_open else number >= low) and number <= high
    if not (math.isfinite(number) and inside):
        raise FieldError(field, f"expected a finite number in {interval}; got {value!r}")
    return number


def _choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise FieldError(field, f"expected one of {', '.join(choices)}; got {shown}")
    return value


def _list(field: str, value: object, most: int, what: str) -> list:
    if not isinstance(value, list):
        raise FieldError(field, f"expected a list of {what}; got {_kind(value)}")
    if len(value) > most:
        raise FieldError(field, f"at most {most} {what}; got {len(value)}")
    return value


def _features(field: str, value: object) -> tuple[str, ...]:
    names = _list(field, value, len(FEATURES), "features")
    if not names:
        raise FieldError(field, "choose at least one input feature")
    chosen = tuple(_choice(f"{field}[{i}]", name, FEATURES) for i, name in enumerate(names))
    if len(set(chosen)) != len(chosen):
        raise FieldError(field, "each feature may appear once")
    return tuple(name for name in FEATURES if name in chosen)  # the page's order


def _hidden(field: str, value: object) -> tuple[int, ...]:
    sizes = _list(field, value, MAX_LAYERS, "hidden layers")
    return tuple(_integer(f"{field}[{i}]", size, 1, MAX_NEURONS) for i, size in enumerate(sizes))


_CHECKS = {
    "problem": lambda f, v: _choice(f, v, tuple(PROBLEMS)),
    "dataset": lambda f, v: _choice(f, v, tuple(d for sets in PROBLEMS.values() for d in sets)),
    "noise": lambda f, v: _number(f, v, 0.0, 0.5),
    "train_ratio": lambda f, v: _number(f, v, 0.1, 0.9),
    "batch_size": lambda f, v: _integer(f, v, 1, MAX_BATCH_SIZE),
    "seed": lambda f, v: _integer(f, v, 0, MAX_SEED),
    "features": _features,
    "hidden": _hidden,
    "activation": lambda f, v: _choice(f, v, ACTIVATIONS),
    "learning_rate": lambda f, v: _number(f, v, 0.0, MAX_RATE, low_open=True),
    "optimizer": lambda f, v: _choice(f, v, OPTIMIZERS),
    "regularization": lambda f, v: _choice(f, v, REGULARIZATIONS),
    "regularization_rate": lambda f, v: _number(f, v, 0.0, MAX_RATE),
    "epochs_per_frame": lambda f, v: _integer(f, v, 1, MAX_EPOCHS_PER_FRAME),
    "backend": lambda f, v: _choice(f, v, BACKENDS),
}
assert set(_CHECKS) == set(FIELDS), "every setting needs its check"
assert DATA_FIELDS | NETWORK_FIELDS | LIVE_FIELDS == set(FIELDS)
