"""One peer in its own process: ``python -m fastnn.benchmark.worker PEER THREADS DATA_DIR``.

The runner starts it with the thread limits already in its environment and its CPU
affinity set, so nothing here can race a library's thread pool into existence. It
answers JSON lines on stdout (anything the libraries print goes to stderr):

    -> {"hello": {"peer": ..., "versions": {...}, "blas": [...]}}   or {"unavailable": why}
    <- {"op": "prepare", "task": KEY, "settings": {...}}            -> {"ok": true} / {"skip": why}
    <- {"op": "measure", "task": KEY}                               -> {"value": v, "extra": {...}}
    <- {"op": "quit"}

``prepare`` builds the model or kernel and warms it up (one untimed epoch, JIT
compilation, first-touch of buffers); ``measure`` times one repetition.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from . import peers
from .data import BenchData, initial_weights
from .environment import blas_libraries
from .workloads import TASK_BY_KEY, Task


class Worker:
    def __init__(self, peer: peers.Peer, data: BenchData) -> None:
        self.peer = peer
        self.data = data
        self.prepared: dict[str, tuple] = {}

    # ------------------------------------------------------------ prepare

    def prepare(self, task: Task, settings: dict) -> None:
        """Build what ``task`` runs and run it once untimed; raises NotSupported."""
        if task.kind == "train":
            X, y = self._train_rows(task, settings)
            epoch = self.peer.trainer(initial_weights(task.arch.sizes), task.optimizer, task.batch)
            epoch(X, y)
            self.prepared[task.key] = (epoch, X, y)
        elif task.kind == "predict":
            predict = self.peer.predictor(initial_weights(task.arch.sizes))
            x = np.ascontiguousarray(self.data.X_test[: task.rows])
            calls = _calls_per_block(predict, x, settings["block_seconds"])
            self.prepared[task.key] = (predict, x, calls, settings)
        else:
            run = self.peer.sgemm(task.size)
            run()
            self.prepared[task.key] = (run, settings)

    def _train_rows(self, task: Task, settings: dict):
        """The rows one measurement trains on: W1 an epoch of all of them; W2 a fixed
        number of batches; W6 enough batches for ``sweep_gflop`` of products."""
        X, y = self.data.X_train, self.data.y_train
        if task.unit == "samples/s":  # throughput: a fixed amount of work, not an epoch
            if task.workload == "W6":
                step = task.arch.train_flops_per_sample() * task.batch
                steps = math.ceil(settings["sweep_gflop"] * 1e9 / step)
            else:
                steps = settings["throughput_steps"]
            rows = min(X.shape[0], steps * task.batch)
            X, y = X[:rows], y[:rows]
        return X, y

    # ------------------------------------------------------------ measure

    def measure(self, task: Task) -> tuple[float, dict]:
        """One timed repetition: (value in task.unit, extra facts)."""
        if task.kind == "train":
            epoch, X, y = self.prepared[task.key]
            started = time.perf_counter()
            seconds, loss = epoch(X, y)
            wall = time.perf_counter() - started
            seconds = wall if seconds is None else seconds
            value = X.shape[0] / seconds if task.higher_is_better else seconds
            return value, {"loss": float(loss), "call_seconds": wall, "rows": X.shape[0]}
        if task.kind == "predict":
            predict, x, calls, settings = self.prepared[task.key]
            per_call = _median_per_call(lambda: predict(x), calls, settings)
            scale = 1e6 if task.unit == "µs" else 1e3
            return per_call * scale, {"calls_per_block": calls}
        run, settings = self.prepared[task.key]
        per_call = _median_per_call(run, 1, settings)
        return 2 * task.size**3 / per_call / 1e9, {"seconds": per_call}


def _calls_per_block(fn, arg, block_seconds: float) -> int:
    """Calls per timed block so that a block lasts about block_seconds (at least 1);
    this also warms the call up."""
    fn(arg)
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            fn(arg)
        if time.perf_counter() - started >= block_seconds or calls >= 1 << 20:
            return calls
        calls *= 2


def _median_per_call(call, calls: int, settings: dict) -> float:
    """Median over blocks of `calls` calls of the seconds per call; blocks are run for
    settings["budget_seconds"], and at least settings["min_blocks"] of them."""
    blocks, deadline = [], time.perf_counter() + settings["budget_seconds"]
    while len(blocks) < settings["min_blocks"] or time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(calls):
            call()
        blocks.append((time.perf_counter() - started) / calls)
    return statistics.median(blocks)


def serve(peer_name: str, threads: int, data_dir: Path, reply) -> None:
    try:
        peer = peers.create(peer_name, threads)
    except Exception as why:  # Unavailable, or a library that fails as it loads
        reply({"unavailable": str(why)})
        return
    worker = Worker(peer, BenchData.load(data_dir))
    reply({"hello": {"peer": peer_name, "versions": peer.versions(), "blas": blas_libraries()}})
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            return
        task = TASK_BY_KEY[request["task"]]
        try:
            if request["op"] == "prepare":
                worker.prepare(task, request["settings"])
                reply({"ok": True})
            else:
                value, extra = worker.measure(task)
                reply({"value": value, "extra": extra})
        except peers.NotSupported as why:
            reply({"skip": str(why)})
        except Exception as error:  # a peer's failure is a note in the table, not a crash
            reply({"skip": f"failed: {type(error).__name__}: {error}"})


def main(argv: list[str]) -> None:
    peer_name, threads, data_dir = argv[0], int(argv[1]), Path(argv[2])
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints from the libraries must not corrupt the protocol

    def reply(message: dict) -> None:
        channel.write(json.dumps(message) + "\n")

    serve(peer_name, threads, data_dir, reply)


if __name__ == "__main__":
    main(sys.argv[1:])
