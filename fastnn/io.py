"""fastnn's model file: a zip of one JSON document and plain .npy arrays.

``model.fnn`` holds ``model.json`` (format name and version, the model's config, the
training state: epochs and steps so far, optimizer step count, random-generator states)
and ``params.npy`` plus one ``optimizer_<i>.npy`` per optimizer state array. Loading
reads arrays with ``allow_pickle=False`` and checks every one against the config, so a
file can never run code, and a damaged or foreign file gets a clear ValueError.

Saving is atomic: the file is written under a temporary name in the same folder,
flushed to disk, then renamed over the target, so a crash at any moment leaves either
the old file or the new one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import layers as layer_module
from . import losses, optimizers

FORMAT = "fastnn-model"
VERSION = 1
CONFIG_NAME = "model.json"


class ModelFileError(ValueError):
    """A model file that is not a valid fastnn model (damaged, foreign, incompatible)."""


def save_model(model, path) -> None:
    path = Path(os.fspath(path))
    if not getattr(model.optimizer, "saves_files", True):
        return  # data-parallel training: rank 0 writes the file, the other ranks skip
    check_writable(path)
    document, arrays = _payload(model)
    _write_atomically(path, document, arrays)


def check_writable(path: Path) -> None:
    """Refuse a path a model file cannot be written to, saying why (the temporary file
    an atomic save writes first would otherwise be what the error names)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot save the model to {path}: it is a folder; give a file path such as "
            f"{path / 'model.fnn'}"
        )
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot save the model to {path}: the folder {folder} does not exist "
            "(create it first, e.g. os.makedirs)"
        )


def model_to_bytes(model) -> bytes:
    """The model file's bytes (what pickling a Model carries: no pickle inside)."""
    buffer = io.BytesIO()
    _write_archive(buffer, *_payload(model))
    return buffer.getvalue()


def model_from_bytes(data: bytes, backend=None):
    """The Model whose file bytes ``model_to_bytes`` returned."""
    return _load(io.BytesIO(data), "<model bytes>", backend)


def _payload(model) -> tuple[dict, dict]:
    """(the JSON document, the named arrays) that make up a model file."""
    if not model.built:
        raise RuntimeError(
            "cannot save a model that is not built yet (no weights): "
            "give input_dim or train it first"
        )
    arrays = {"params": model.params}
    if model.optimizer is not None:
        for i, state in enumerate(model.optimizer.states):
            arrays[f"optimizer_{i}"] = state
    document = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.get_config(),
        "state": {
            "epochs_trained": model.epochs_trained,
            "steps_trained": model.steps_trained,
            "init_rng": model._init_rng.bit_generator.state,
            "shuffle_rng": model._shuffle_rng.bit_generator.state,
            "dropout_seed": model.dropout_seed,
            "optimizer_iterations": model.optimizer.iterations if model.optimizer else 0,
        },
        "arrays": {
            name: {"shape": list(a.shape), "dtype": str(a.dtype)} for name, a in arrays.items()
        },
    }
    return document, arrays


def _write_archive(stream, document: dict, arrays: dict) -> None:
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(CONFIG_NAME, json.dumps(document, indent=1))
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def _write_atomically(path: Path, document: dict, arrays: dict) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as raw:
            _write_archive(raw, document, arrays)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening folders)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def load_model(path, backend=None):
    """Read a model saved by ``model.save``; ``backend`` overrides the saved choice."""
    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; load_model takes the path of a model file")
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    return _load(path, str(path), backend)


def _load(source, path: str, backend):
    """The Model in ``source`` (a path or a binary stream); ``path`` names it in errors."""
    try:
        with zipfile.ZipFile(source) as archive:
            document = _read_document(archive, path)
            arrays = _read_arrays(archive, document, path)
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{path} is not a fastnn model file (not a zip archive: {error})"
        ) from error
    except (OSError, EOFError, zipfile.LargeZipFile) as error:
        raise ModelFileError(f"{path} could not be read as a fastnn model: {error}") from error

    config, state = document["config"], document["state"]
    try:
        model = model_from_config(config, backend)
        model.build(config["input_dim"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path} has an invalid model configuration: {error}") from error
    _check_arrays(model, arrays, path)
    model.params[...] = arrays["params"]
    if model.optimizer is not None:
        model.optimizer.states = [arrays[f"optimizer_{i}"].copy() for i in range(_n_states(model))]
        model.optimizer.iterations = int(state["optimizer_iterations"])
    try:
        model.epochs_trained = int(state["epochs_trained"])
        model.steps_trained = int(state["steps_trained"])
        model._init_rng.bit_generator.state = state["init_rng"]
        model._shuffle_rng.bit_generator.state = state["shuffle_rng"]
        model.dropout_seed = int(state["dropout_seed"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has an invalid training state: {error}") from error
    return model


def model_from_config(config: dict, backend=None):
    """A new, unbuilt Model from ``Model.get_config()`` (compiled if the config was)."""
    from .model import Model

    model = Model(
        [layer_module.from_config(c) for c in config["layers"]],
        seed=config["seed"],
        dtype=config["dtype"],
        backend=backend if backend is not None else config["backend"],
        name=config["name"],
        precision=config.get("precision", "float32"),  # files from before bf16: float32
    )
    if config["loss"] is not None and config["optimizer"] is not None:
        model.compile(
            loss=losses.from_config(config["loss"]),
            optimizer=optimizers.from_config(config["optimizer"]),
            metrics=config["metrics"],
        )
    return model


def _read_document(archive: zipfile.ZipFile, path: str) -> dict:
    try:
        raw = archive.read(CONFIG_NAME)
    except KeyError:
        raise ModelFileError(
            f"{path} is not a fastnn model file (no {CONFIG_NAME} inside)"
        ) from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path}: {CONFIG_NAME} is not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a fastnn model file (format field missing)")
    if document.get("version") != VERSION:
        raise ModelFileError(
            f"{path} is fastnn model format version {document.get('version')!r}; this fastnn "
            f"reads version {VERSION}"
        )
    for key in ("config", "state", "arrays"):
        if not isinstance(document.get(key), dict):
            raise ModelFileError(f"{path}: {CONFIG_NAME} has no valid {key!r} section")
    return document


def _read_arrays(archive: zipfile.ZipFile, document: dict, path: str) -> dict:
    expected = set(document["arrays"])
    present = {name[:-4] for name in archive.namelist() if name.endswith(".npy")}
    others = set(archive.namelist()) - {CONFIG_NAME} - {f"{n}.npy" for n in present}
    if present != expected or others:
        missing, extra = expected - present, (present - expected) | others
        raise ModelFileError(
            f"{path}: the arrays do not match the config (missing: {sorted(missing) or 'none'}, "
            f"unexpected: {sorted(extra) or 'none'})"
        )
    arrays = {}
    for name in sorted(expected):
        with archive.open(f"{name}.npy") as member:
            try:
                arrays[name] = np.lib.format.read_array(
                    io.BytesIO(member.read()), allow_pickle=False
                )
            except (ValueError, OSError, EOFError) as error:  # pickled objects refused here
                raise ModelFileError(f"{path}: array {name!r} is invalid ({error})") from error
    return arrays


def _n_states(model) -> int:
    return model.optimizer.step_spec().n_states()


def _check_arrays(model, arrays: dict, path: str) -> None:
    wanted = {"params": model.params.size}
    if model.optimizer is not None:
        wanted.update({f"optimizer_{i}": model.params.size for i in range(_n_states(model))})
    if set(arrays) != set(wanted):
        raise ModelFileError(
            f"{path}: expected arrays {sorted(wanted)} for this configuration; "
            f"found {sorted(arrays)}"
        )
    for name, size in wanted.items():
        array = arrays[name]
        if array.shape != (size,) or array.dtype != model.dtype:
            raise ModelFileError(
                f"{path}: array {name!r} has shape {array.shape} and dtype {array.dtype}; the "
                f"config needs shape ({size},) and dtype {model.dtype}"
            )
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: array {name!r} contains NaN or inf")
