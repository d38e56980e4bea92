"""Data-parallel training over MPI (extra ``fastnn[mpi]``).

A single-process script becomes data-parallel by wrapping its optimizer, and is started
with an MPI launcher::

    import fastnn as fn
    import fastnn.distributed as fnd

    model = fn.Model([fn.Dense(256, "relu"), fn.Dense(10, "softmax")], seed=0)
    model.compile("cross_entropy", optimizer=fnd.DistributedOptimizer(fn.optimizers.Adam()),
                  metrics=["accuracy"])
    model.fit(X, y, epochs=5, batch_size=512)     # 512 = the global batch
    model.save("model.fnn")                       # rank 0 writes, the others skip

    $ mpiexec -n 4 python train.py

Every rank trains the same model (same seed) on the same rows; each step splits the
global batch over the ranks, sums the gradients with MPI Allreduce and applies the same
update everywhere, so the result is single-process training's with the same batch and
seed (float64: to 1e-10 relative), and the weights are the same bits on every rank.
Data from files (``fn.datasets.open_idx``, ``np.memmap``, wrapped in ``Rows``) are read
by each rank only for its own rows. See docs/distributed.md.
"""

from __future__ import annotations

from ._optimizer import DistributedOptimizer, load_model
from ._rows import Rows
from ._split import share
from ._state import broadcast_parameters
from ._world import CollectiveError, init, mpi_available, world


def rank() -> int:
    """This process's rank in the job (0 in a single process)."""
    return world().rank


def size() -> int:
    """How many processes the job has (1 without mpiexec)."""
    return world().size


def local_rank() -> int:
    """This process's rank among the job's processes on the same machine."""
    return world().local_rank


def local_size() -> int:
    """How many of the job's processes run on this machine."""
    return world().local_size


def barrier() -> None:
    """Wait until every rank gets here (e.g. before other ranks read what rank 0 saved)."""
    world().barrier()


__all__ = [
    "CollectiveError",
    "DistributedOptimizer",
    "Rows",
    "barrier",
    "broadcast_parameters",
    "init",
    "load_model",
    "local_rank",
    "local_size",
    "mpi_available",
    "rank",
    "share",
    "size",
]
