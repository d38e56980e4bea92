"""Runs the peers against each other: one process per peer and thread count, measured
in interleaved rounds, one peer at a time.

Why processes: libraries with thread pools (OpenBLAS, libgomp, MKL, XLA's Eigen pool,
onnxruntime) keep their workers spinning on the cores for a while after each call, and
two such libraries in one process (or one machine, at once) steal each other's cores.
So each peer lives in its own process whose thread limits and CPU affinity are set
before any library loads; only one process computes at a time; and after each
measurement the runner waits until that process's threads have stopped using the CPU
(read from /proc) before the next peer starts.

Why rounds: the machine is shared and noisy. Every round measures every (task, peer)
once, in a rotated peer order, so slow drifts hit all peers alike; the report takes
medians over rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .environment import worker_environment
from .workloads import Task

# The worker's first lines run before anything imports NumPy: set the CPU affinity
# while the process still has a single thread, so every thread pool inherits it.
BOOTSTRAP = """\
import os, runpy, sys
cores = [int(c) for c in sys.argv.pop(1).split(",")]
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, cores)
runpy.run_module("fastnn.benchmark.worker", run_name="__main__", alter_sys=True)
"""


@dataclass
class Settings:
    rounds: int = 5
    throughput_steps: int = 10  # W2: batches per measurement
    sweep_gflop: float = 25.0  # W6: batches enough for this much work per measurement
    block_seconds: float = 0.002  # W3/W4: a timed block of calls lasts about this
    budget_seconds: float = 0.15  # W3/W4: blocks are run for this long per measurement
    min_blocks: int = 3  # W3/W4: ... and at least this many blocks
    top_threads_only: tuple[str, ...] = ()  # task keys measured at the most threads only
    environment: dict[str, str] = field(default_factory=dict)  # added to every worker's

    def for_worker(self) -> dict:
        runner_only = ("rounds", "top_threads_only", "environment")
        return {k: v for k, v in vars(self).items() if k not in runner_only}


@dataclass
class Cell:
    """One (task, threads, peer): the value of each round, or why it was skipped."""

    values: list[float] = field(default_factory=list)
    extras: list[dict] = field(default_factory=list)
    skip: str | None = None


@dataclass
class Results:
    cells: dict[tuple[str, int, str], Cell] = field(default_factory=dict)
    peers: dict[str, dict] = field(default_factory=dict)  # hello, or {"unavailable": why}
    cores: dict[int, list[int]] = field(default_factory=dict)  # threads -> cores used

    def cell(self, task: str, threads: int, peer: str) -> Cell:
        return self.cells.setdefault((task, threads, peer), Cell())


class WorkerProcess:
    """A worker (see worker.py) for one peer and thread count, and its JSON channel."""

    def __init__(
        self, peer: str, threads: int, cores: list[int], data_dir: Path, environment: dict
    ) -> None:
        self.peer = peer
        self.quitting = False
        self.log = open(data_dir / f"{peer}-{threads}.log", "w+")  # closed by close()
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP, ",".join(map(str, cores)), peer, str(threads),
             str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**worker_environment(threads), **environment},
            text=True,
        )  # fmt: skip

    def send(self, request: dict) -> None:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died: receive() reports why

    def receive(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read()[-2000:]
            return {"unavailable": f"worker exited (code {self.process.wait()}): {tail}"}
        return json.loads(line)

    def ask(self, request: dict) -> dict:
        self.send(request)
        return self.receive()

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_idle(self) -> None:
        wait_until_idle(self.pid)

    def request_quit(self) -> None:
        if self.process.poll() is None and not self.quitting:
            self.send({"op": "quit"})
            self.quitting = True

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.request_quit()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.log.close()


def cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by all threads of `pid` (None where /proc cannot tell)."""
    total = 0
    try:
        for thread in os.scandir(f"/proc/{pid}/task"):
            with open(os.path.join(thread.path, "schedstat")) as stat:
                total += int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def busy_cpu_seconds() -> float | None:
    """CPU time all processes on the machine have used so far (/proc/stat, 10 ms ticks)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, window: float = 0.01, limit: float = 2.0) -> None:
    """Return once `pid` used under 5 % of one core over `window` seconds (its spinning
    workers have gone to sleep), or after `limit` seconds."""
    deadline = time.perf_counter() + limit
    before = cpu_seconds(pid)
    if before is None:
        time.sleep(0.2)  # no /proc: give spinning threads a fixed grace period
        return
    while time.perf_counter() < deadline:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now is None or now - before < 0.05 * window:
            return
        before = now


def cores_for(threads: int) -> list[int]:
    """The first `threads` cores this process may run on (all of them if fewer)."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not available:
        available = list(range(os.cpu_count() or 1))
    return available[:threads]


def run(
    peers: list[str],
    tasks: list[Task],
    thread_counts: list[int],
    data_dir: Path,
    settings: Settings,
    log: Callable[[str], None] = lambda message: None,
) -> Results:
    results = Results()
    # Every worker starts and warms up at once: nothing is timed yet, and the processes
    # pinned to one core import and compile beside those given more.
    workers = {}
    try:
        for threads in thread_counts:
            results.cores[threads] = cores_for(threads)
            cores = results.cores[threads]
            workers[threads] = _start(peers, threads, cores, data_dir, settings.environment, log)
        for threads in thread_counts:
            workers[threads] = _hello(workers[threads], results)
        top = max(thread_counts)
        tasks_at = {
            threads: [t for t in tasks if threads == top or t.key not in settings.top_threads_only]
            for threads in thread_counts
        }
        active = _prepare(workers, tasks, tasks_at, settings, results, log)
        for threads in thread_counts:
            for round_index in range(settings.rounds):
                log(f"threads {threads}: round {round_index + 1}/{settings.rounds}")
                for task in tasks_at[threads]:
                    for peer in _rotated(active[threads][task.key], round_index):
                        _measure(workers[threads][peer], task, threads, results)
            _close(workers.pop(threads).values())  # its thread pools must not outlive its turn
    finally:
        _close([worker for group in workers.values() for worker in group.values()])
    return results


def _start(peers, threads, cores, data_dir, environment, log) -> dict[str, WorkerProcess]:
    log(f"threads {threads}: starting {len(peers)} peer processes on cores {cores}")
    return {peer: WorkerProcess(peer, threads, cores, data_dir, environment) for peer in peers}


def _close(workers) -> None:
    """Ask every worker to quit at once, then wait for each (exits overlap)."""
    workers = list(workers)
    for worker in workers:
        worker.request_quit()
    for worker in workers:
        worker.close()


def _hello(started: dict[str, WorkerProcess], results: Results) -> dict[str, WorkerProcess]:
    """The workers that loaded their peer; the others are noted and closed."""
    workers = {}
    for peer, worker in started.items():
        answer = worker.receive()
        if "hello" in answer:
            results.peers.setdefault(peer, answer["hello"])
            workers[peer] = worker
        else:
            results.peers.setdefault(peer, answer)
            worker.close()
    return workers


def _prepare(workers, tasks, tasks_at, settings, results, log) -> dict[int, dict[str, list[str]]]:
    """Warm each task up in every worker of the thread counts that run it (in parallel:
    nothing is timed yet); returns, per thread count and task, the peers that can run it."""
    active: dict[int, dict[str, list[str]]] = {threads: {} for threads in workers}
    for task in tasks:
        log(f"preparing {task.key}")
        request = {"op": "prepare", "task": task.key, "settings": settings.for_worker()}
        groups = {threads: group for threads, group in workers.items() if task in tasks_at[threads]}
        for group in groups.values():
            for worker in group.values():
                worker.send(request)
        for threads, group in groups.items():
            active[threads][task.key] = []
            for peer, worker in group.items():
                answer = worker.receive()
                if answer.get("ok"):
                    active[threads][task.key].append(peer)
                else:
                    results.cell(task.key, threads, peer).skip = _reason(answer)
    for group in workers.values():
        for worker in group.values():
            worker.wait_idle()
    return active


def _measure(worker: WorkerProcess, task: Task, threads: int, results: Results) -> None:
    cell = results.cell(task.key, threads, worker.peer)
    if cell.skip:
        return
    started, machine, own = time.perf_counter(), busy_cpu_seconds(), cpu_seconds(worker.pid)
    answer = worker.ask({"op": "measure", "task": task.key})
    wall = time.perf_counter() - started
    machine_after, own_after = busy_cpu_seconds(), cpu_seconds(worker.pid)
    worker.wait_idle()
    if "value" in answer:
        cell.values.append(answer["value"])
        if None not in (machine, own, machine_after, own_after):
            # cores kept busy by everything else on the machine meanwhile: the noise
            others = (machine_after - machine) - (own_after - own)
            answer["extra"]["background_cores"] = round(max(others, 0.0) / wall, 2)
        cell.extras.append(answer["extra"])
    else:
        cell.skip = _reason(answer)


def _reason(answer: dict) -> str:
    return answer.get("skip") or answer.get("unavailable") or str(answer)


def _rotated(items: list[str], by: int) -> list[str]:
    if not items:
        return items
    by %= len(items)
    return items[by:] + items[:by]
