"""DistributedOptimizer: the one change that makes a fastnn script data-parallel.

As in Horovod, the user wraps the optimizer (``optimizer=DistributedOptimizer(Adam())``)
and fit does the rest. The wrapped optimizer is an instance of a subclass of the
optimizer's own class (``isinstance(opt, fn.optimizers.Adam)`` still holds) sharing its
hyperparameters and state; it adds only the training strategy fit asks for, and it
saves as the plain optimizer, so a model trained on N ranks loads and trains on in one.
"""

from __future__ import annotations

from .. import optimizers
from ._world import init, world


class _Distributed:
    """Mixed in before the optimizer's class by DistributedOptimizer."""

    _plain: type

    @property
    def strategy(self):
        """The data-parallel strategy fit runs its batches through, new for each fit
        (fastnn.training's hook). In one process it runs fit's fused step, as fit
        does without it."""
        from ._strategy import DataParallel

        return DataParallel(world())

    @property
    def saves_files(self) -> bool:
        """Whether model.save writes on this rank: on rank 0 only (the weights are the
        same bits on every rank)."""
        return world().rank == 0

    def get_config(self) -> dict:
        return {**super().get_config(), "name": self._plain.__name__}

    def __repr__(self) -> str:
        plain = self._plain.__new__(self._plain)
        plain.__dict__.update(self.__dict__)
        return f"DistributedOptimizer({plain!r})"


_CLASSES: dict[type, type] = {}


def DistributedOptimizer(
    optimizer: optimizers.OptimizerLike = "adam", timeout: float | None = None
):
    """``optimizer`` (a name or an fn.optimizers object) made data-parallel over the MPI
    job this script was started in (``mpiexec -n N python train.py``). fit's batch_size
    is then the GLOBAL batch: each step splits it over the N ranks, sums their gradients
    with MPI Allreduce and takes the same step everywhere, so N ranks train the model one
    process would (no learning-rate scaling). In a single process it is the optimizer
    itself. ``timeout``: seconds a rank may wait for the others in a collective before it
    aborts the job (default 600, or $FASTNN_DISTRIBUTED_TIMEOUT)."""
    optimizer = optimizers.get(optimizer)
    init(timeout)
    plain = getattr(optimizer, "_plain", type(optimizer))
    cls = _CLASSES.get(plain)
    if cls is None:
        cls = type(f"Distributed{plain.__name__}", (_Distributed, plain), {"_plain": plain})
        cls.__module__ = __name__
        _CLASSES[plain] = cls
    wrapped = cls.__new__(cls)
    wrapped.__dict__.update(optimizer.__dict__)  # the same hyperparameters and state arrays
    return wrapped


def load_model(path, backend=None, timeout: float | None = None):
    """fn.load_model(path) with the optimizer wrapped by DistributedOptimizer: how N ranks
    resume from a checkpoint (every rank reads the file rank 0 wrote)."""
    from ..io import load_model as load

    model = load(path, backend)
    if model.optimizer is not None:
        model.optimizer = DistributedOptimizer(model.optimizer, timeout)
    return model


def is_distributed(optimizer) -> bool:
    return isinstance(optimizer, _Distributed)
