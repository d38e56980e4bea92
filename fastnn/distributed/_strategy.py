"""Data-parallel training: the strategy DistributedOptimizer plugs into fit's batch loop.

One step on N ranks, for a global batch of b rows (positions p = 0..b-1 of the batch):

1. rank r computes the gradient of its part of the batch (positions [lo, hi) from
   ``share``) with the loss divided by b, not by its own row count, and Dropout masks
   keyed by each row's position in the global batch; rank 0 alone adds the
   regularization penalty. Summing the ranks' gradients therefore gives exactly the
   gradient single-process training computes for the whole batch (up to the order
   of the sum);
2. MPI Allreduce sums the gradients in place in the flat gradient buffer (one call on
   one contiguous buffer: per-layer buckets were measured no faster here, see
   docs/distributed.md), and a second, 2-number Allreduce sums the loss shares and
   the ranks' Ctrl-C flags;
3. if the summed loss is finite every rank applies the same optimizer step to the same
   weights with the same summed gradient, so the weights stay bitwise identical on all
   ranks (the MPI standard advises, and MPICH and Open MPI do, that a reduction gives
   every rank the same bits; the tests check the weights' hash after every step); if
   it is not, no rank steps and fit stops as it does in one process.

Ctrl-C: a rank's SIGINT only marks its flag; the ranks learn of it together from the
step's Allreduce and stop before the same next batch, so no rank is left waiting in a
collective. At the end of an epoch the metric sums are summed over the ranks, so every
rank logs the same history.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager

import numpy as np

from ..training import Strategy
from ._digest import describe, require_agreement
from ._rows import Rows
from ._split import share
from ._world import World


class AgreedFlag:
    """What fit's loop reads as "interrupted": set on every rank at once, by the step
    whose Allreduce first carries a rank's Ctrl-C. Until then a rank's own Ctrl-C only
    sets ``local``."""

    def __init__(self, local: threading.Event) -> None:
        self.local = local
        self._agreed = False

    def is_set(self) -> bool:
        return self._agreed

    def set(self) -> None:
        self._agreed = True


class DataParallel(Strategy):
    """Split each global batch over the ranks of ``world``; Allreduce the gradients.

    fit's strategy hook (fastnn.training.Strategy): ``run_batch`` and ``epoch_sums``;
    ``prepare_data`` and ``bind_data`` (rows left in their file); and ``fitting``, a
    scope around the whole fit (the full configuration digest, abort on a rank's error,
    the agreed Ctrl-C flag, progress on rank 0).
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.rank, self.size = world.rank, world.size
        self._scalars = np.zeros(2)  # [this rank's loss share, this rank's Ctrl-C flag]
        self.flag: AgreedFlag | None = None
        self.allreduce_seconds = 0.0  # time in the gradient Allreduce (bench/distributed.py)
        self.steps = 0
        self._source = None  # (Rows, y, weight, bound buffers) for rows read from a file
        self.batch_size: int | None = None  # the fit's batch (from fitting)

    # ------------------------------------------------------------ fit's scope

    @contextmanager
    def fitting(
        self,
        model,
        X,
        y,
        weight=None,
        *,
        batch_size: int,
        epochs: int,
        shuffle: bool,
        validation: str = "none",
    ):
        """Around the whole of fit (fastnn.training calls it when a strategy has it):
        first the ranks' setups are compared (one CollectiveError on every rank if they
        differ, before any step); then, while fit runs, an exception on this rank
        (a callback's, SystemExit, a second Ctrl-C) aborts the job, since the other
        ranks would wait for this one forever. Yields what fit adapts: ``verbose``
        (rank 0 alone shows progress) and ``interrupted`` (the agreed Ctrl-C flag)."""
        self.batch_size = min(batch_size, int(X.shape[0]))
        if self.size == 1:
            yield self
            return
        fields = describe(
            model,
            batch_size=batch_size,
            epochs=epochs,
            n_rows=int(X.shape[0]),
            n_features=int(np.prod(X.shape[1:])),
            targets=np.asarray(y),
            shuffle=shuffle,
            validation=validation,
        )
        with self.world.abort_on_error("fit"):
            require_agreement(self.world, fields)
            yield self

    def interrupted(self, local: threading.Event) -> AgreedFlag:
        """The flag fit's loop reads instead of its own Ctrl-C event."""
        self.flag = AgreedFlag(local)
        return self.flag

    def verbose(self, verbose: int) -> int:
        return verbose if self.rank == 0 else 0

    # ------------------------------------------------------------ the data

    def prepare_data(self, model, X, y, sample_weight, validation_split, validation_data):
        """fit's inputs checked and split, as fit's own code does, except that rows in a
        file (``Rows``, ``np.memmap``) stay there: only their shape is checked here,
        each batch's rows are checked as a rank reads them, and a validation split's
        rows (the last ones) are read once. Returns ((X, y, weight), validation)."""
        from .. import validation as check
        from ..training import _split_validation

        if isinstance(X, np.memmap):
            X = Rows(X)
        if not isinstance(X, Rows):
            X = model.prepare_features(X)
        elif model.input_dim is None:
            model.build(X.n_features)
        elif X.n_features != model.input_dim:
            raise ValueError(
                f"X has {X.n_features} features per row but the model expects "
                f"{model.input_dim} (its input_dim)"
            )
        y = model.prepare_targets(y, X.shape[0])
        weight = check.as_sample_weight("sample_weight", sample_weight, X.shape[0], model.dtype)
        (X, y, weight), validation = _split_validation(
            model, X, y, weight, validation_split, validation_data
        )
        if validation is not None and isinstance(validation[0], Rows):
            validation = (np.asarray(validation[0], model.dtype), *validation[1:])
        if isinstance(X, Rows) and self.size == 1:
            X = np.asarray(X, model.dtype)  # one process: every row is its own
        return (X, y, weight), validation

    def bind_data(self, session, X, y, weight) -> None:
        """Arrays are bound whole (the session gathers each rank's rows); for rows in a
        file the session is bound to buffers of one part of a batch, which run_batch
        fills with this rank's rows before each step."""
        self._source = None
        if not isinstance(X, Rows):
            session.bind_data(X, y, weight)
            return
        rows = -(-(self.batch_size or session_batch(session, X)) // self.size)
        buffers = (
            np.empty((rows, X.n_features), session.grads.dtype),
            np.empty((rows, *y.shape[1:]), y.dtype),
            None if weight is None else np.empty(rows, weight.dtype),
        )
        self._source = (X, y, weight, buffers)
        session.bind_data(*buffers)

    def _read_rows(self, mine) -> slice:
        """This rank's rows into the bound buffers; returns the slice to train on."""
        X, y, weight, (bx, by, bw) = self._source
        count = X.read(mine, bx).shape[0]
        by[:count] = y[mine]
        if weight is not None:
            bw[:count] = weight[mine]
        return slice(0, count)

    # ------------------------------------------------------------ one step

    def part(self, rows) -> tuple[object, int, int]:
        """(this rank's rows, its first position in the batch, the batch's size) for a
        batch given as a slice of the bound data or an index array."""
        if isinstance(rows, slice):
            start, stop = rows.start or 0, rows.stop
            lo, hi = share(stop - start, self.size, self.rank)
            return slice(start + lo, start + hi), lo, stop - start
        lo, hi = share(len(rows), self.size, self.rank)
        return rows[lo:hi], lo, len(rows)

    def run_batch(self, session, rows, lr: float, t: int, dropout_step: int) -> float:
        """One data-parallel step; returns the global batch's loss (the same float on
        every rank). A non-finite loss steps nowhere."""
        if self.size == 1:  # one process: fit's fused step
            if self._source is not None:
                rows = self._read_rows(rows)
            return session.train_step(rows, lr, t, dropout_step)
        world = self.world
        with world.abort_on_error(f"training step {t}"):
            mine, offset, batch = self.part(rows)
            if self._source is not None and _count(mine):
                mine = self._read_rows(mine)
            if _count(mine):
                loss = session.compute_gradients(
                    mine,
                    dropout_step,
                    row_offset=offset,
                    denominator=batch,
                    penalty=self.rank == 0,
                )
            else:  # a batch shorter than the number of ranks: nothing to add (never rank 0)
                session.grads[...] = 0
                loss = 0.0
            self._scalars[0] = loss
            self._scalars[1] = 1.0 if self.flag is not None and self.flag.local.is_set() else 0.0
            started = time.perf_counter()
            world.allreduce(session.grads, f"the gradient Allreduce of step {t}")
            self.allreduce_seconds += time.perf_counter() - started
            world.allreduce(self._scalars, f"the loss Allreduce of step {t}")
            total = float(self._scalars[0])
            if self._scalars[1] and self.flag is not None:
                self.flag.set()
            if math.isfinite(total):
                session.apply_gradients(lr, t)
            self.steps += 1
            return total

    # ------------------------------------------------------------ an epoch's end

    def epoch_sums(self, session, loss_sum: float, seen: int) -> tuple:
        """The epoch's sums over every rank. The loss sum and the row count are already
        global (each step's loss is the global batch's); the metric sums are summed."""
        if self.size == 1:
            return loss_sum, session.totals, seen
        totals = np.array(session.totals, dtype=np.float64)
        with self.world.abort_on_error("the end of an epoch"):
            self.world.allreduce(totals, "the Allreduce of the epoch's metric sums")
        return loss_sum, totals, seen


def session_batch(session, X) -> int:
    """The most rows a batch of this fit has (the session's capacity)."""
    capacity = getattr(session, "batch", None)
    return int(capacity) if capacity else X.shape[0]


def _count(rows) -> int:
    return (rows.stop - rows.start) if isinstance(rows, slice) else len(rows)
