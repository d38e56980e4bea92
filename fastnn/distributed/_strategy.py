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
   ranks (MPI returns the same bits of a sum to every rank); if it is not, no rank
   steps and fit stops as it does in one process.

Ctrl-C: a rank's SIGINT only marks its flag; the ranks learn of it together from the
step's Allreduce and stop before the same next batch, so no rank is left waiting in a
collective. At the end of an epoch the metric sums are summed over the ranks, so every
rank logs the same history.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ._digest import describe, require_agreement
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

    def set(self) -> None:  # fit never sets it; for symmetry with threading.Event
        self._agreed = True


class DataParallel:
    """Split each global batch over the ranks of ``world``; Allreduce the gradients."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rank, self.size = world.rank, world.size
        self._scalars = np.zeros(2)  # [this rank's loss share, this rank's Ctrl-C flag]
        self.flag: AgreedFlag | None = None
        self.allreduce_seconds = 0.0  # time in the gradient Allreduce, for the benchmark
        self.steps = 0

    # ------------------------------------------------------------ fit's start

    def begin(
        self,
        model,
        *,
        y: np.ndarray,
        n_rows: int,
        n_features: int,
        batch_size: int,
        epochs: int,
        shuffle: bool,
        validation: str,
        interrupted: threading.Event,
    ) -> AgreedFlag:
        """Compare the ranks' setups (one error on every rank if they differ); returns
        the flag fit's loop reads instead of its own Ctrl-C event."""
        fields = describe(
            model,
            batch_size=batch_size,
            epochs=epochs,
            n_rows=n_rows,
            n_features=n_features,
            targets=y,
            shuffle=shuffle,
            validation=validation,
        )
        require_agreement(self.world, fields)
        self.flag = AgreedFlag(interrupted)
        return self.flag

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
        world = self.world
        with world.abort_on_error(f"training step {t}"):
            mine, offset, batch = self.part(rows)
            count = (mine.stop - mine.start) if isinstance(mine, slice) else len(mine)
            if count or self.rank == 0:
                loss = session.compute_gradients(
                    mine,
                    dropout_step,
                    row_offset=offset,
                    denominator=batch,
                    penalty=self.rank == 0,
                )
            else:  # a batch shorter than the number of ranks: nothing to add
                session.grads[...] = 0
                loss = 0.0
            self._scalars[0] = loss
            self._scalars[1] = 1.0 if self.flag is not None and self.flag.local.is_set() else 0.0
            started = _clock()
            world.allreduce(session.grads, f"the gradient Allreduce of step {t}")
            self.allreduce_seconds += _clock() - started
            world.allreduce(self._scalars, f"the loss Allreduce of step {t}")
            total = float(self._scalars[0])
            if self._scalars[1] and self.flag is not None:
                self.flag._agreed = True
            if math.isfinite(total):
                session.apply_gradients(lr, t)
            self.steps += 1
            return total

    # ------------------------------------------------------------ an epoch's end

    def reduce_totals(self, totals: np.ndarray) -> None:
        """Sum the epoch's metric sums over the ranks, in place (float64)."""
        with self.world.abort_on_error("the end of an epoch"):
            self.world.allreduce(totals, "the Allreduce of the epoch's metric sums")


def _clock() -> float:
    import time

    return time.perf_counter()
