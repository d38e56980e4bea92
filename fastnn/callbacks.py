"""Callbacks: hooks into fit, with Keras's names and meanings.

A callback sees ``self.model`` and gets ``on_train_begin/end(logs)``,
``on_epoch_begin/end(epoch, logs)`` and ``on_batch_begin/end(batch, logs)``. Epoch logs
hold the epoch's mean ``loss``, its metrics and their ``val_`` twins. Setting
``self.model.stop_training = True`` ends fit after the current batch or epoch.
Per-batch hooks cost a Python call per batch, so fit only calls them on callbacks that
override them.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from .validation import check_choice, check_float, check_int


class Callback:
    """Base class of fit's hooks: subclass it and override the hooks you need.

    ``self.model`` is the model being trained (set before ``on_train_begin``); setting
    ``self.model.stop_training = True`` ends fit after the current batch or epoch.
    Epoch numbers count over the model's life from 0; batch numbers restart at 0 each
    epoch. Per-batch hooks cost a Python call per batch: fit only calls them on
    callbacks that override one.
    """

    def __init__(self) -> None:
        self.model = None

    def set_model(self, model) -> None:
        """fit calls this first with the model it trains."""
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Once, before the first epoch."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Once, after the last epoch (also when training stopped early)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Before each epoch."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """After each epoch; ``logs`` holds the epoch's mean ``loss``, its metrics and,
        with validation data, their ``val_`` twins (Python floats)."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Before each training step."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """After each training step; ``logs`` holds the batch's ``loss`` and ``size``."""

    def wants_batches(self) -> bool:
        """Whether this callback overrides a per-batch hook."""
        cls = type(self)
        return (
            cls.on_batch_begin is not Callback.on_batch_begin
            or cls.on_batch_end is not Callback.on_batch_end
        )


class History(Callback):
    """Per-epoch logs: ``history["loss"]``, ``history["val_accuracy"]``, ...; ``epoch``
    lists the (0-based, counted over the model's life) epoch numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _resolve_mode(mode: str, monitor: str) -> str:
    check_choice("mode", mode, ("auto", "min", "max"))
    if mode != "auto":
        return mode
    return "max" if "acc" in monitor else "min"


class _Monitor(Callback):
    """Shared by EarlyStopping and ModelCheckpoint: tracks the best value of a log key."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log name such as 'val_loss'; got {monitor!r}")
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = abs(check_float("min_delta", min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self._warned = False

    def _current(self, logs: dict | None) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None and not self._warned:
            self._warned = True
            warnings.warn(
                f"{type(self).__name__} monitors {self.monitor!r}, which is not in the logs "
                f"(available: {', '.join(sorted(logs or {})) or 'none'}); "
                "give fit validation data for val_ metrics",
                RuntimeWarning,
                stacklevel=3,
            )
        return value

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best_weights`` the model ends with its best epoch's weights."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = check_int("patience", patience, 0)
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = verbose
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self._current(logs)
        if value is None:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch is not None and self.verbose:
            print(
                f"Epoch {self.stopped_epoch + 1}: early stopping (best {self.monitor} "
                f"{self.best:.4g} at epoch {self.best_epoch + 1})"
            )


class ModelCheckpoint(_Monitor):
    """Save the model (weights, optimizer and random state) after each epoch, or only
    when ``monitor`` improves with ``save_best_only``. ``path`` may hold format fields
    such as ``"ckpt-{epoch:02d}-{val_loss:.3f}.fnn"`` (epoch counted from 1)."""

    def __init__(
        self,
        path: str,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.verbose = verbose

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Refuse a missing folder before the first epoch, not after it."""
        super().on_train_begin(logs)
        folder = os.path.dirname(self.path)
        if folder and "{" not in folder and not os.path.isdir(folder):
            raise FileNotFoundError(
                f"ModelCheckpoint path {self.path}: the folder {folder} does not exist "
                "(create it first, e.g. os.makedirs)"
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._improved(value):
                return
            self.best = value
        path = self.path.format(epoch=epoch + 1, **logs)
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


class TerminateOnNaN(Callback):
    """Stop as soon as a batch's loss is NaN or infinite (fit also does this itself,
    restoring the last finite weights; this callback exists for Keras habits)."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=f)``."""

    _HOOKS = (
        "on_train_begin",
        "on_train_end",
        "on_epoch_begin",
        "on_epoch_end",
        "on_batch_begin",
        "on_batch_end",
    )

    def __init__(self, **hooks) -> None:
        super().__init__()
        for name, function in hooks.items():
            if name not in self._HOOKS:
                raise ValueError(f"unknown hook {name!r}; expected one of {', '.join(self._HOOKS)}")
            setattr(self, name, function)

    def wants_batches(self) -> bool:
        return "on_batch_begin" in vars(self) or "on_batch_end" in vars(self)
