"""The training loop behind Model.fit.

fit trains through the model's training session (``Model.training_session``, bound once
per fit to the model's buffers and the training rows). Per batch: one call,
``session.train_step``, that gathers the shuffled rows, runs the forward pass, the loss
and its gradient, the training metrics' batch sums, backprop and the optimizer update
(the native backend does all of it in one C call, allocating nothing). Around it:
validation split, shuffling from the model's seeded stream, callbacks, progress, and the
two ways training stops early without losing the user's work:

* divergence: a NaN/inf loss is caught before the step that would use it; training
  stops with a RuntimeWarning naming the epoch and batch, and the model keeps the last
  finite weights (those of the epoch's start if the current ones are not finite);
* Ctrl-C: SIGINT only raises a flag; the loop stops at the next batch boundary, so no
  step is ever half applied, and warns where it stopped.

The strategy hook
-----------------
How fit runs, around the loop that stays the same, is left to a strategy object:
``fit(..., strategy=s)``, else the compiled optimizer's ``strategy`` attribute if it has
one, else ``LOCAL``. A strategy subclasses ``Strategy``, whose methods are one process's
defaults, and overrides what it changes:

* ``run_batch(session, rows, lr, t, dropout_step) -> loss``: one optimizer step on the
  batch ``rows`` (int64 indices into the training rows, or a slice), returning the
  batch's mean loss, the same in every process; a non-finite loss must mean that
  nothing changed (fit then stops: divergence);
* ``epoch_sums(session, loss_sum, seen) -> (loss_sum, metric_sums, seen)``: this
  process's running sums at the epoch's end (the sum of loss * batch rows, the
  session's metric totals, the rows stepped) as the epoch's over every process;
* ``prepare_data``, ``bind_data``: how fit's inputs are checked and split, and how the
  training rows reach the session (rows may stay in a file);
* ``fitting(...)``: a context manager around the rest of fit (after prepare_data), with
  ``verbose`` and ``interrupted``: what this process shows, and the Ctrl-C flag the
  loop reads at batch boundaries.

``LOCAL`` (one process) is ``session.train_step`` and the sums as they are. A
data-parallel strategy (fastnn.distributed) splits ``rows`` across the ranks, calls
``session.compute_gradients(part, dropout_step, row_offset=first_row_of_part,
denominator=len(rows), penalty=rank == 0)``, Allreduces ``session.grads`` and the loss,
then ``session.apply_gradients(lr, t)``; at the epoch's end it sums the metric totals
across the ranks. Everything else in fit stays the same for every strategy.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence

import numpy as np

from . import validation as check
from .callbacks import Callback, History
from .interrupts import sigint_as_flag
from .progress import ProgressLogger


def fit(
    model,
    X,
    y,
    epochs: int = 1,
    batch_size: int = 32,
    validation_split: float = 0.0,
    validation_data: tuple | None = None,
    shuffle: bool = True,
    verbose: int = 1,
    callbacks: Sequence[Callback] | None = None,
    target_loss: float | None = None,
    sample_weight=None,
    initial_epoch: int | None = None,
    strategy: Strategy | None = None,
) -> History:
    """Train ``model`` on (X, y); returns the History (also kept as model.history).

    epochs: how many epochs to run (with ``initial_epoch``, as in Keras, the index to
        stop at: epochs - initial_epoch are run).
    batch_size: rows per step; 1 is SGD, len(X) full-batch gradient descent.
    validation_split: fraction of the *last* rows held out for validation (before
        shuffling, as Keras does); validation_data=(X_val, y_val[, weights]) instead.
    shuffle: reshuffle the training rows every epoch (from the model's seed).
    verbose: 0 silent, 1 a live bar per epoch (tqdm) or a line, 2 a line per epoch.
    target_loss: stop after the first epoch whose mean training loss is below it.
    sample_weight: per-row weights of the loss.
    strategy: how each batch is run (see the module's docstring); default one process.
    """
    model._require_compiled()
    epochs = check.check_int("epochs", epochs, 0)
    batch_size = check.check_int("batch_size", batch_size, 1)
    validation_split = check.check_validation_split(validation_split)
    verbose = check.check_int("verbose", verbose, 0, 2)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False; got {shuffle!r}")
    if target_loss is not None:
        target_loss = check.check_float("target_loss", target_loss)
    callbacks = _check_callbacks(callbacks)
    strategy = _check_strategy(strategy, model.optimizer)
    if initial_epoch is not None:
        initial_epoch = check.check_int("initial_epoch", initial_epoch, 0)
        run_epochs = max(epochs - initial_epoch, 0)
    else:
        run_epochs = epochs

    (X, y, weight), validation = strategy.prepare_data(
        model, X, y, sample_weight, validation_split, validation_data
    )
    scope = strategy.fitting(
        model,
        X,
        y,
        weight,
        batch_size=batch_size,
        epochs=run_epochs,
        shuffle=shuffle,
        validation=_describe_validation(validation_split, validation),
    )
    with scope:
        return _fit(
            model,
            X,
            y,
            weight,
            validation,
            batch_size,
            run_epochs,
            initial_epoch,
            shuffle,
            strategy.verbose(verbose),
            callbacks,
            target_loss,
            strategy,
        )


def _fit(
    model,
    X,
    y,
    weight,
    validation,
    batch_size: int,
    run_epochs: int,
    initial_epoch,
    shuffle: bool,
    verbose: int,
    callbacks,
    target_loss,
    strategy,
) -> History:
    """fit once its inputs are checked and split, inside the strategy's scope."""
    history = History()
    history.params = {"epochs": run_epochs, "batch_size": batch_size, "samples": X.shape[0]}
    progress = ProgressLogger(verbose, run_epochs, X.shape[0])
    everyone = [history, *callbacks, progress]
    for callback in everyone:
        callback.set_model(model)
    model.history = history
    model.stop_training = False

    loop = _Loop(model, X, y, weight, batch_size, shuffle, strategy)
    for callback in everyone:
        callback.on_train_begin({})
    first = model.epochs_trained if initial_epoch is None else initial_epoch
    try:
        with sigint_as_flag() as local_flag:
            # what the loop reads; data-parallel ranks must stop before the same batch
            interrupted = strategy.interrupted(local_flag)
            for epoch in range(first, first + run_epochs):
                model.epochs_trained = epoch
                for callback in everyone:
                    callback.on_epoch_begin(epoch, {})
                logs = loop.run_epoch(epoch, callbacks, progress, interrupted)
                if logs is None:  # diverged or interrupted mid-epoch: the epoch is not logged
                    break
                model.epochs_trained = epoch + 1
                if validation is not None:
                    val = model.evaluate_arrays(*validation)
                    logs.update({f"val_{key}": value for key, value in val.items()})
                for callback in everyone:
                    callback.on_epoch_end(epoch, logs)
                if target_loss is not None and logs["loss"] < target_loss:
                    break
                if interrupted.is_set():
                    _warn_interrupted(epoch + 1, 0)
                    break
                if model.stop_training:
                    break
    finally:
        loop.close()
        progress.close()
    for callback in everyone:
        callback.on_train_end({})
    return history


class Strategy:
    """How fit runs, around the loop that stays the same (the module's docstring has the
    rules). These defaults are training in one process; a strategy for several
    (fastnn.distributed.DataParallel) overrides what it must."""

    def prepare_data(self, model, X, y, sample_weight, validation_split, validation_data):
        """fit's inputs checked and converted, and the validation part split off:
        returns ((X, y, weight), validation or None)."""
        X = model.prepare_features(X)
        y = model.prepare_targets(y, X.shape[0])
        weight = check.as_sample_weight("sample_weight", sample_weight, X.shape[0], model.dtype)
        return _split_validation(model, X, y, weight, validation_split, validation_data)

    def fitting(self, model, X, y, weight, *, batch_size, epochs, shuffle, validation):
        """A context manager around the rest of fit (after prepare_data)."""
        return contextlib.nullcontext()

    def verbose(self, verbose: int) -> int:
        """The verbosity this process shows."""
        return verbose

    def interrupted(self, flag):
        """The flag the loop reads at batch boundaries, from this process's Ctrl-C flag."""
        return flag

    def bind_data(self, session, X, y, weight) -> None:
        """The training rows, to the session (once per fit)."""
        session.bind_data(X, y, weight)

    def run_batch(self, session, rows, lr: float, t: int, dropout_step: int) -> float:
        """One optimizer step on the batch ``rows``; returns its mean loss."""
        return session.train_step(rows, lr, t, dropout_step)

    def epoch_sums(self, session, loss_sum: float, seen: int) -> tuple:
        """(loss sum, metric sums, rows) of the epoch over every process."""
        return loss_sum, session.totals, seen


LOCAL = Strategy()


def _check_strategy(strategy, optimizer) -> Strategy:
    if strategy is None:
        strategy = getattr(optimizer, "strategy", None) or LOCAL
    if not isinstance(strategy, Strategy):
        raise TypeError(
            "strategy must be a fastnn.training.Strategy (subclass it and override what "
            f"changes, such as run_batch and epoch_sums); got {type(strategy).__name__}"
        )
    return strategy


class _Loop:
    """The training session and per-batch work of one fit call."""

    def __init__(self, model, X, y, weight, batch_size: int, shuffle, strategy) -> None:
        self.model = model
        self.n = X.shape[0]
        self.batch = min(batch_size, self.n)
        self.shuffle = shuffle
        self.strategy = strategy
        self.session = model.training_session(self.batch)
        strategy.bind_data(self.session, X, y, weight)
        # the last weights known to be finite: refreshed at each epoch's start
        self.snapshot = [model.params.copy(), *(s.copy() for s in model.optimizer.states)]
        self.metric_names = list(model.metrics)

    def close(self) -> None:
        self.session.release_data()  # the model keeps its session, not the training data

    def run_epoch(self, epoch: int, callbacks, progress: ProgressLogger, interrupted):
        model, optimizer = self.model, self.model.optimizer
        session, run_batch = self.session, self.strategy.run_batch
        self._take_snapshot()
        order = model._shuffle_rng.permutation(self.n) if self.shuffle else None
        batch_hooks = [cb for cb in callbacks if cb.wants_batches()]
        lr = optimizer.learning_rate(epoch)
        session.reset_totals()
        loss_sum = 0.0
        for index, start in enumerate(range(0, self.n, self.batch)):
            if interrupted.is_set():
                _warn_interrupted(epoch, index)
                return None
            stop = min(start + self.batch, self.n)
            # contiguous rows are read in place; shuffled ones gathered by the backend
            rows = slice(start, stop) if order is None else order[start:stop]
            for callback in batch_hooks:
                callback.on_batch_begin(index, {})
            t = optimizer.iterations + 1
            loss = run_batch(session, rows, lr, t, model.steps_trained)
            if not math.isfinite(loss):  # the step changed nothing
                self._diverged(epoch, index, loss)
                return None
            optimizer.iterations += 1
            model.steps_trained += 1
            size = stop - start
            loss_sum += loss * size
            progress.batch_end(size, loss)
            if batch_hooks:
                for callback in batch_hooks:
                    callback.on_batch_end(index, {"loss": loss, "size": size})
                if model.stop_training:
                    break
        seen = min(self.n, (index + 1) * self.batch)
        loss_sum, totals, seen = self.strategy.epoch_sums(session, loss_sum, seen)
        logs = {"loss": loss_sum / seen}
        logs.update((name, float(total) / seen) for name, total in zip(self.metric_names, totals))
        return logs

    def _take_snapshot(self) -> None:
        for saved, live in zip(self.snapshot, self._live()):
            np.copyto(saved, live)

    def _live(self):
        return [self.model.params, *self.model.optimizer.states]

    def _diverged(self, epoch: int, index: int, loss: float) -> None:
        restored = "kept the current weights (the last finite ones)"
        if not all(np.isfinite(array).all() for array in self._live()):
            for saved, live in zip(self.snapshot, self._live()):
                np.copyto(live, saved)
            restored = "restored the weights from the start of the epoch (the last finite ones)"
        warnings.warn(
            f"training diverged: the loss became {loss} at epoch {epoch + 1}, batch "
            f"{index + 1}; stopped and {restored}. Try a smaller learning rate or clipnorm.",
            RuntimeWarning,
            stacklevel=4,
        )


def _split_validation(model, X, y, weight, split: float, data):
    """((X, y, weight) to train on, (X_val, y_val, weight_val) or None)."""
    if data is not None:
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (X_val, y_val) or "
                "(X_val, y_val, sample_weight_val)"
            )
        X_val = check.as_features("validation_data[0]", data[0], model.input_dim, model.dtype)
        y_val = check.as_targets(
            "validation_data[1]",
            data[1],
            model.loss.code,
            model.output_dim,
            X_val.shape[0],
            model.dtype,
        )
        w_val = None
        if len(data) == 3:
            w_val = check.as_sample_weight(
                "validation_data[2]", data[2], X_val.shape[0], model.dtype
            )
        return (X, y, weight), (X_val, y_val, w_val)
    if split == 0:
        return (X, y, weight), None
    n_train = int(X.shape[0] * (1 - split))
    if n_train < 1 or n_train == X.shape[0]:
        raise ValueError(
            f"validation_split={split} of {X.shape[0]} samples leaves "
            f"{n_train} for training and {X.shape[0] - n_train} for validation; "
            "both need at least one"
        )

    def part(array, sl):
        return None if array is None else array[sl]

    train, held = slice(0, n_train), slice(n_train, None)
    return (X[train], y[train], part(weight, train)), (X[held], y[held], part(weight, held))


def _describe_validation(split: float, validation) -> str:
    """The validation setup in words (data-parallel ranks compare it)."""
    if validation is None:
        return "none"
    return f"split {split:g}" if split else f"{validation[0].shape[0]} given rows"


def _check_callbacks(callbacks) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list of fn.callbacks.Callback objects")
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must be fn.callbacks.Callback objects; got {type(callback).__name__}"
            )
    return list(callbacks)


def _warn_interrupted(epoch: int, index: int) -> None:
    warnings.warn(
        f"training interrupted (KeyboardInterrupt) at epoch {epoch + 1}, before batch "
        f"{index + 1}; the model holds the weights after the last completed step",
        RuntimeWarning,
        stacklevel=4,
    )
