"""The configuration digest: what every rank must agree on before training starts.

Data-parallel training is only right when every rank runs the same model on the same
data with the same arguments: a rank with another seed or batch size would silently
train something else (or wait forever in a collective of another shape). Each rank
describes its setup as a few named fields; the fields are gathered (one small
collective) and compared with rank 0's, and any difference stops every rank at once
with the same error, naming each field that differs and its value on each rank.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ._world import CollectiveError, World

# Fields a user sets, in the order the error lists them; the rest follow.
ORDER = (
    "architecture",
    "seed",
    "dtype",
    "precision",
    "batch_size",
    "data_size",
    "features",
    "targets",
    "loss",
    "optimizer",
    "metrics",
    "backend",
    "epochs",
    "shuffle",
    "validation",
    "fastnn",
    "weights",
    "optimizer_state",
    "random_state",
)


# Fields that differ whenever a setting above differs (another seed draws other weights,
# another data size hashes other labels): named only when no setting explains them.
CONSEQUENCES = ("weights", "optimizer_state", "random_state", "targets")


def array_hash(*arrays: np.ndarray) -> str:
    """A short hash of the arrays' bytes (the same bits give the same hash)."""
    digest = hashlib.blake2b(digest_size=12)
    for array in arrays:
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def describe(
    model,
    *,
    batch_size: int,
    epochs: int,
    n_rows: int,
    n_features: int,
    targets: np.ndarray,
    shuffle: bool,
    validation: str,
) -> dict[str, str]:
    """This rank's setup as {field: text}. ``targets`` is hashed (labels are small; the
    features, possibly a file of many GB, are described by their shape only)."""
    from .._version import __version__

    optimizer = model.optimizer
    return {
        "architecture": architecture(model),
        "seed": str(model.seed),
        "dtype": str(model.dtype),
        "precision": model.precision,
        "batch_size": str(batch_size),
        "data_size": f"{n_rows} rows",
        "features": f"{n_features} per row",
        "targets": f"{targets.dtype} {targets.shape[1:]} hash {array_hash(targets)}",
        "loss": _json(model.loss.get_config()),
        "optimizer": _json(optimizer.get_config()),
        "metrics": _json(model.metrics),
        "backend": model.backend,
        "epochs": str(epochs),
        "shuffle": str(bool(shuffle)),
        "validation": validation,
        "fastnn": __version__,
        "weights": array_hash(model.params),
        "optimizer_state": f"step {optimizer.iterations}, "
        f"{array_hash(*optimizer.states) if optimizer.states else 'no arrays'}",
        "random_state": f"epochs_trained {model.epochs_trained}, steps_trained "
        f"{model.steps_trained}, streams {_text_hash(_streams(model))}",
    }


def _streams(model) -> str:
    return _json([model._shuffle_rng.bit_generator.state, model.dropout_seed])


def _text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def architecture(model) -> str:
    """ "784 -> Dense 64 relu -> Dropout 0.1 -> Dense 10 softmax (details 3f2a...)": the
    shape to read, and a hash of every other setting (initializers, regularizers,
    frozen layers). Layer names are left out: they do not change what is computed."""
    steps, details = [str(model.input_dim)], []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        details.append(config)
        if config["class"] == "Dense":
            steps.append(f"Dense {config['units']} {config['activation'].get('name', '')}")
        else:
            steps.append(f"Dropout {config['rate']:g}")
    return f"{' -> '.join(steps)} (details {_text_hash(_json(details))})"


def require_agreement(world: World, fields: dict[str, str]) -> None:
    """Raise the same CollectiveError on every rank unless all ranks' fields match."""
    everyone = world.allgather(fields, "the comparison of the ranks' setups")
    message = disagreement(everyone)
    if message:
        raise CollectiveError(message)


def disagreement(everyone: list[dict[str, str]]) -> str | None:
    """The error text for ranks' fields that differ, or None when all agree."""
    names = [n for n in ORDER if n in everyone[0]] + sorted(set(everyone[0]) - set(ORDER))
    problems = []
    for name in names:
        values: dict[str, list[int]] = {}
        for rank, fields in enumerate(everyone):
            values.setdefault(fields.get(name, "(missing)"), []).append(rank)
        if len(values) > 1:
            shown = "; ".join(f"{_ranks(r)}: {_short(v)}" for v, r in values.items())
            problems.append(f"{name} differs ({shown})")
    if not problems:
        return None
    if len(problems) > len([p for p in problems if p.split(" ", 1)[0] in CONSEQUENCES]):
        # the weights, state and labels differ *because* a setting does: name the setting
        problems = [p for p in problems if p.split(" ", 1)[0] not in CONSEQUENCES]
    hint = ""
    if any(
        p.startswith(("seed ", "weights ", "random_state ", "optimizer_state ")) for p in problems
    ):
        hint = (
            " Give fn.Model the same seed on every rank, or call "
            "fastnn.distributed.broadcast_parameters(model) once it is built."
        )
    return (
        f"fastnn.distributed: the {len(everyone)} ranks disagree on the training setup, so "
        f"no rank started training: {'. '.join(problems)}. Every rank must build the same "
        "model, compile it the same way and call fit with the same arguments on the same "
        f"data.{hint}"
    )


def _ranks(ranks: list[int]) -> str:
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
