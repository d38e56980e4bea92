"""The MPI job this process belongs to, and the rules that keep a job from hanging.

MPI is mpi4py's (extra ``fastnn[mpi]``: mpi4py plus the ``mpich`` wheel, or mpi4py
against the MPI a cluster already has). Importing ``mpi4py.MPI`` initialises MPI, so
it happens on first use, never on ``import fastnn``.

A collective only returns when every rank has entered it, so one rank that stops
early leaves the others waiting. Three rules make every way of stopping end the whole
job in a bounded time:

* a rank that dies is noticed by the launcher (mpiexec kills the others at once);
* a rank that raises, inside fastnn or in the user's script, calls MPI_Abort (the
  traceback is printed first): during training from ``abort_on_error``, elsewhere from
  the ``sys.excepthook`` that ``init`` installs (what ``python -m mpi4py`` does);
* a rank that waits in a fastnn collective longer than ``timeout`` seconds (another
  rank hangs, or left without raising) prints where it waited and calls MPI_Abort, from
  a watchdog thread (mpi4py releases the GIL while MPI blocks).

Errors that every rank detects at the same point (ranks that disagree on the setup)
are ``collective``: every rank raises the same exception and nobody aborts.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from contextlib import contextmanager

import numpy as np

ENV_TIMEOUT = "FASTNN_DISTRIBUTED_TIMEOUT"
DEFAULT_TIMEOUT = 600.0  # seconds; NCCL's long-standing default watchdog timeout
ABORT_CODE = 70  # the exit status an aborted job reports (EX_SOFTWARE)

INSTALL_HINT = (
    "fastnn.distributed needs mpi4py and an MPI library: pip install 'fastnn[mpi]' "
    "(mpi4py and the mpich wheel), or, on a cluster with its own MPI, pip install mpi4py "
    "built against it (MPICC=/path/to/mpicc pip install --no-binary mpi4py mpi4py)"
)


class CollectiveError(ValueError):
    """An error every rank raised at the same point (so no rank was left waiting)."""

    collective = True


def import_mpi():
    """mpi4py.MPI (initialising MPI), or ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from error
    return MPI


def mpi_available() -> bool:
    """Whether mpi4py imports here (without initialising MPI)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def check_timeout(timeout) -> float:
    from ..validation import check_float

    return check_float("timeout", timeout, 0.0, low_open=True)


class World:
    """The communicator every rank trains over, with timed collectives."""

    def __init__(self, comm, timeout: float) -> None:
        self.MPI = import_mpi()
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        # the ranks on this machine (a collective, so done once, while every rank inits)
        node = comm.Split_type(self.MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        self.timeout = timeout
        self._waiting: tuple[float, str] | None = None
        self._watchdog: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ collectives

    def allreduce(self, array: np.ndarray, what: str) -> None:
        """Sum ``array`` over the ranks, in place (the same bits on every rank)."""
        with self.waiting(what):
            self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)

    def allreduce_max(self, array: np.ndarray, what: str) -> None:
        with self.waiting(what):
            self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.MAX)

    def broadcast(self, array: np.ndarray, root: int, what: str) -> None:
        """``array`` on every rank becomes root's, in place."""
        with self.waiting(what):
            self.comm.Bcast(array, root=root)

    def broadcast_object(self, value, root: int, what: str):
        with self.waiting(what):
            return self.comm.bcast(value, root=root)

    def allgather(self, value, what: str) -> list:
        """Every rank's ``value`` (small, picklable), in rank order."""
        with self.waiting(what):
            return self.comm.allgather(value)

    def barrier(self, what: str = "barrier") -> None:
        with self.waiting(what):
            self.comm.Barrier()

    # ------------------------------------------------------------ failure

    @contextmanager
    def waiting(self, what: str):
        """Marks a blocking collective for the watchdog."""
        if self.size == 1:
            yield
            return
        self._start_watchdog()
        self._waiting = (time.monotonic(), what)
        try:
            yield
        finally:
            self._waiting = None

    def _start_watchdog(self) -> None:
        with self._lock:
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="fastnn-mpi-watchdog", daemon=True
                )
                self._watchdog.start()

    def _watch(self) -> None:
        tick = min(1.0, self.timeout / 4)
        while True:
            time.sleep(tick)
            waiting = self._waiting
            if waiting is None:
                continue
            since, what = waiting
            waited = time.monotonic() - since
            if waited > self.timeout:
                self.abort(
                    f"waited {waited:.0f} s (timeout {self.timeout:g} s) in {what}: another "
                    "rank has stopped, hangs or left without an error. Raise the limit with "
                    f"fastnn.distributed.init(timeout=...) or ${ENV_TIMEOUT} where a rank "
                    "legitimately takes longer between steps"
                )

    def abort(self, message: str) -> None:
        """Print why and end every rank of the job (MPI_Abort never returns)."""
        sys.stderr.write(f"fastnn.distributed: rank {self.rank} of {self.size}: {message}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(0.5)  # let the launcher forward this output before it ends the job
        self.comm.Abort(ABORT_CODE)
        os._exit(ABORT_CODE)  # MPI_Abort may return before the launcher ends this process

    @contextmanager
    def abort_on_error(self, during: str):
        """Inside: an exception on this rank alone aborts the job (after its traceback),
        since the other ranks would wait for it in the next collective forever.
        Collective errors pass through, as does everything when there is one rank."""
        try:
            yield
        except BaseException as error:
            if self.size == 1 or getattr(error, "collective", False):
                raise
            traceback.print_exc()
            self.abort(f"{type(error).__name__} during {during}; aborting all ranks")


_world: World | None = None
_previous_hook = None


def world() -> World:
    """The job's World, initialising MPI on first use (see ``init``)."""
    return _world if _world is not None else init()


def init(timeout: float | None = None, abort_on_exception: bool = True) -> World:
    """Initialise MPI once; returns the World. ``timeout``: seconds a rank waits in a
    fastnn collective before it aborts the job (default $FASTNN_DISTRIBUTED_TIMEOUT,
    else 600); a later call with a timeout changes it. ``abort_on_exception``: install
    the sys.excepthook that aborts the job on a rank's uncaught exception."""
    global _world
    if timeout is not None:
        timeout = check_timeout(timeout)
    if _world is None:
        MPI = import_mpi()
        default = float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT))
        _world = World(MPI.COMM_WORLD, check_timeout(default) if timeout is None else timeout)
        if abort_on_exception:
            _install_excepthook()
        _share_cores(_world)
    elif timeout is not None:
        _world.timeout = timeout
    return _world


def _share_cores(job: World) -> None:
    """k ranks on one machine would each start fastnn's kernels on all its cores (k x
    cores threads); unless OMP_NUM_THREADS says otherwise, each rank takes its share
    (as torchrun does for PyTorch). fn.set_num_threads still overrides it."""
    if job.size == 1 or os.environ.get("OMP_NUM_THREADS"):
        return
    from ..runtime import _native_module, get_num_threads, set_num_threads

    if _native_module() is not None:
        set_num_threads(max(1, get_num_threads() // job.local_size))


def _install_excepthook() -> None:
    global _previous_hook
    if _previous_hook is not None:
        return
    _previous_hook = sys.excepthook

    def hook(kind, value, tb):
        job = _world
        collective = getattr(value, "collective", False)
        if job is None or job.size == 1:
            _previous_hook(kind, value, tb)
            return
        if collective:  # every rank raised the same error: rank 0 tells it, nobody aborts
            if job.rank == 0:
                _previous_hook(kind, value, tb)
            return
        _previous_hook(kind, value, tb)
        job.abort(f"uncaught {kind.__name__}; aborting all ranks so that none waits forever")

    sys.excepthook = hook
