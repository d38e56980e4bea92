"""Hyper-parameter sweeps on a Dask cluster (extra ``fastnn[dask]``).

Nothing here schedules: scikit-learn's searches already run their fits through joblib,
and joblib's ``"dask"`` backend hands each fit to a Dask worker. What fastnn adds is the
thread count: every fit would otherwise run fastnn's kernels on all the cores it sees,
so k concurrent fits on a machine would run k x cores threads. ``set_worker_threads``
makes every worker use its share of its machine's cores::

    from dask.distributed import Client          # or LocalCluster() for this machine
    import joblib
    from sklearn.model_selection import GridSearchCV
    from fastnn.sklearn import MLPClassifier
    import fastnn.dask

    client = Client("tcp://scheduler:8786")      # a real cluster; Client() starts a local one
    fastnn.dask.set_worker_threads(client)       # workers x threads <= cores, per machine
    search = GridSearchCV(MLPClassifier(random_state=0), grid, n_jobs=-1)
    with joblib.parallel_backend("dask"):
        search.fit(X, y)                         # the same results as a serial search

The results equal the serial search's: each fit is seeded by its estimator's
random_state, and fastnn's results do not depend on the thread count.
"""

from __future__ import annotations

import os

try:
    from distributed import WorkerPlugin
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("fastnn.dask needs Dask's distributed: pip install 'fastnn[dask]'") from error

__all__ = ["FastnnThreads", "set_worker_threads", "worker_threads"]


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


class FastnnThreads(WorkerPlugin):
    """Sets fastnn's thread count in each worker when it starts (and in those that join
    later). ``slots_per_host``: how many tasks can run at once on each host (the sum of
    its workers' threads); a host not listed counts its joining worker's threads only.
    ``threads``: a fixed count instead of the cores' share."""

    name = "fastnn-threads"

    def __init__(self, slots_per_host: dict[str, int] | None = None, threads: int | None = None):
        self.slots_per_host = dict(slots_per_host or {})
        self.threads = threads

    def setup(self, worker) -> None:
        import fastnn

        fastnn.set_num_threads(self.threads_for(_host(worker.address), worker.state.nthreads))

    def threads_for(self, host: str, worker_slots: int) -> int:
        if self.threads is not None:
            return self.threads
        slots = max(self.slots_per_host.get(host, worker_slots), 1)
        return max(1, _cores() // slots)


def _host(address: str) -> str:
    """ "tcp://10.0.0.5:40123" -> "10.0.0.5"."""
    return address.split("://", 1)[-1].rsplit(":", 1)[0]


def set_worker_threads(client, threads: int | None = None) -> dict[str, int]:
    """Register FastnnThreads on the client's cluster; returns {worker: fastnn threads}.
    Without ``threads`` each worker takes cores // (tasks that run at once on its host),
    at least 1, so workers x threads never exceed a host's cores."""
    if threads is not None:
        from .validation import check_int

        threads = check_int("threads", threads, 1)
    slots: dict[str, int] = {}
    for address, facts in client.scheduler_info()["workers"].items():
        host = _host(address)
        slots[host] = slots.get(host, 0) + int(facts["nthreads"])
    client.register_plugin(FastnnThreads(slots, threads))
    return worker_threads(client)


def worker_threads(client) -> dict[str, int]:
    """{worker address: fastnn's thread count there}."""

    def threads() -> int:
        import fastnn

        return fastnn.get_num_threads()

    return client.run(threads)
