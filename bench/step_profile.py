"""Where a workload of fastnn native spends its time on this machine.

    python bench/step_profile.py W2 [--threads 2] [--rounds 5] [--perf 5]
    python bench/step_profile.py W6-1024 --threads 1 --perf 5
    python bench/step_profile.py W3-10k --perf 5

WORKLOAD is a task of ``fastnn bench`` (W1-sgd, W1-adam, W2, W3-1, W3-10k, W6-64,
W6-256, W6-1024, W6-4096). Three views of it, from the outside in:

1. the workload as ``fastnn bench`` measures it (the same worker code and settings, on
   the same data), as time per training step or per predict call, GFLOP/s and share of
   the fp32 FMA peak measured now (fastnn/benchmark/peak.py);
2. every GEMM of that step (or of predict's 256-row chunks) timed alone through
   fastnn's GEMM binding with the epilogue the network fuses in, next to NumPy's
   product of the same shape: what the products cost, and what is left for everything
   else (elementwise passes, the optimizer update, gathering rows, Python);
3. with ``--perf SECONDS``: the workload run that long under ``perf record`` (Linux
   perf, attached to this process), the symbols taking the most samples.

The process runs like a ``fastnn bench`` worker: pinned to the first T cores, NumPy
and fastnn limited to T threads, OpenBLAS unpinned (fastnn/benchmark/environment.py).
Times are medians over rounds (perf: samples, robust to other load); say that the
machine was shared when it was.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from fastnn.benchmark import environment

environment.unpin_openblas()  # before anything is timed (may restart this process)

import argparse  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

from fastnn.benchmark import data as bench_data  # noqa: E402
from fastnn.benchmark import machine, runner  # noqa: E402
from fastnn.benchmark.peak import fma_peak  # noqa: E402
from fastnn.benchmark.peers import fastnn_peer  # noqa: E402
from fastnn.benchmark.worker import Worker  # noqa: E402
from fastnn.benchmark.workloads import TASK_BY_KEY, Task, gflops  # noqa: E402


def predict_chunk() -> int:
    """The rows the native predict pushes through the whole network at a time."""
    from fastnn.backends.native import NativeBackend

    return inspect.signature(NativeBackend.predict).parameters["chunk"].default


def best_of(call, seconds: float = 0.3) -> float:
    """Median seconds per call over blocks of about 2 ms, after a warm-up call."""
    call()
    started = time.perf_counter()
    call()
    n = max(1, int(2e-3 / (time.perf_counter() - started)))
    blocks, deadline = [], time.perf_counter() + seconds
    while len(blocks) < 5 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        blocks.append((time.perf_counter() - t0) / n)
    return statistics.median(blocks)


def seconds_per_unit(task: Task, value: float, rows: int) -> tuple[float, str]:
    """(seconds, what) of one training step or one predict call from a bench value."""
    if task.kind == "predict":
        return value / (1e6 if task.unit == "µs" else 1e3), "predict call"
    if task.higher_is_better:  # samples/s
        return task.batch / value, "training step"
    return value / math.ceil(rows / task.batch), "training step"  # s/epoch


def products(task: Task) -> list[tuple[str, int, int, int, bool, bool, dict, float]]:
    """(name, m, n, k, trans_a, trans_b, epilogue, times per unit) of every GEMM in one
    step or predict call, as the network stores its operands."""
    sizes, out = task.arch.sizes, []
    last = len(sizes) - 2
    if task.kind == "predict":
        chunk = min(task.rows, predict_chunk())
        repeat = task.rows / chunk
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            act = {"act": "relu"} if i < last else {}
            name = f"L{i + 1} X W + b{', relu' if act else ''} ({chunk}-row chunk)"
            out.append((name, chunk, n_out, n_in, False, False, {"bias": n_out, **act}, repeat))
        return out
    batch = task.batch
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        act = {"act": "relu"} if i < last else {}  # the softmax is a row pass after it
        name = f"forward L{i + 1}: X W + b{', relu' if act else ''}"
        out.append((name, batch, n_out, n_in, False, False, {"bias": n_out, **act}, 1.0))
    for i in range(last, -1, -1):
        n_in, n_out = sizes[i], sizes[i + 1]
        out.append((f"dW{i + 1} = Xᵀ dZ", n_in, n_out, batch, True, False, {}, 1.0))
        if i > 0:  # no gradient for the input
            name = f"dX{i + 1} = dZ Wᵀ · relu'"
            out.append((name, batch, n_in, n_out, False, True, {"relu_grad": True}, 1.0))
    return out


def time_products(task: Task, rng) -> list[tuple[str, str, float, float, float, float]]:
    """(name, shape, flops, fastnn s, NumPy s, times per unit) for each product."""
    gemm = importlib.import_module("fastnn.backends._native").gemm
    rows = []
    for name, m, n, k, ta, tb, epilogue, repeat in products(task):
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        options = {}
        if "bias" in epilogue:
            options["bias"] = rng.standard_normal(epilogue["bias"]).astype(np.float32)
        if "act" in epilogue:
            options["act"] = epilogue["act"]
        if epilogue.get("relu_grad"):
            options.update(act="relu", aux=np.abs(rng.standard_normal((m, n))).astype(np.float32))
        ours = partial(gemm, a, b, trans_a=ta, trans_b=tb, out=c, **options)
        theirs = partial(np.matmul, a.T if ta else a, b.T if tb else b, out=c)
        orientation = ("T" if ta else "N") + ("T" if tb else "N")
        shape = f"{m}×{k}·{k}×{n} {orientation}"
        rows.append((name, shape, 2.0 * m * n * k, best_of(ours), best_of(theirs), repeat))
    return rows


def perf_profile(run, seconds: float, top: int = 18) -> list[str]:
    """The `top` symbols by share of perf's samples while `run` loops for `seconds`."""
    perf = shutil.which("perf")
    if perf is None:
        return ["(perf is not installed: Debian's linux-perf)"]
    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "perf.data")
        recorder = subprocess.Popen(
            [perf, "record", "-F", "1999", "-g", "-o", data, "-p", str(os.getpid())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)  # perf attaches to every thread
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            run()
        recorder.send_signal(2)  # SIGINT: perf writes its data and exits
        _, error = recorder.communicate()
        report = subprocess.run(
            [perf, "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio",
             "-g", "none", "--percent-limit", "0.3"],
            capture_output=True, text=True,
        )  # fmt: skip
    lines = [line for line in report.stdout.splitlines() if line.strip() and line[0] != "#"]
    if not lines:
        return [f"(perf recorded nothing: {error.decode().strip() or report.stderr.strip()})"]
    out = []
    for line in lines[:top]:
        share, dso, _kind, *symbol = line.split()
        while symbol and symbol[-1] == "-":  # perf's empty IPC columns
            symbol.pop()
        out.append(f"| {share} | {' '.join(symbol)[:70]} | {Path(dso).name[:40]} |")
    return ["| samples | symbol | library |", "|---:|---|---|", *out]


def table(header: list[str], rows: list[list[str]]) -> None:
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=sorted(k for k in TASK_BY_KEY if k != "W4"))
    parser.add_argument("--threads", type=int, default=len(runner.cores_for(1 << 16)))
    parser.add_argument("--rounds", type=int, default=5, help="measurements of the workload")
    parser.add_argument("--perf", type=float, metavar="SECONDS", help="also sample it with perf")
    parser.add_argument("--data", default="auto", choices=("auto", "fashion-mnist", "random"))
    args = parser.parse_args()
    task = TASK_BY_KEY[args.workload]
    cores = runner.cores_for(args.threads)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    from threadpoolctl import threadpool_limits

    threadpool_limits(len(cores))
    data = bench_data.load(args.data)
    worker = Worker(fastnn_peer.native(len(cores)), data)
    worker.prepare(task, runner.Settings().for_worker())
    machine_before, own_before = runner.busy_cpu_seconds(), time.process_time()
    started = time.perf_counter()
    measured = [worker.measure(task) for _ in range(args.rounds)]
    wall = time.perf_counter() - started
    machine_after, own_after = runner.busy_cpu_seconds(), time.process_time()
    value = statistics.median(v for v, _ in measured)
    rows = measured[-1][1].get("rows", 0)
    seconds, unit = seconds_per_unit(task, value, rows)
    peak = fma_peak(cores)
    facts = machine.machine_facts()
    print(f"{task.label}: {machine.cpu_model()}, {len(cores)} thread(s) on cores {cores}; "
          f"fastnn {facts['fastnn'].get('simd')}, OpenMP {facts['fastnn'].get('openmp')}; "
          f"{data.source}")  # fmt: skip
    line = f"\nfastnn bench's figure: {value:,.4g} {task.unit} = {seconds * 1e6:,.1f} µs per {unit}"
    rate = gflops(task, value)
    if rate is not None:
        line += f", {rate:.1f} GFLOP/s"
        if peak:
            line += f" = {rate / peak['total']:.0%} of the fp32 FMA peak ({peak['total']:.0f})"
    print(line + f" (median of {args.rounds})")
    if machine_before is not None and machine_after is not None:
        others = (machine_after - machine_before) - (own_after - own_before)
        print(f"background load meanwhile: {max(others, 0) / wall:.2f} cores busy with other "
              "processes (above ~0.1 the figures above are not this code's alone)")  # fmt: skip

    timed = time_products(task, np.random.default_rng(0))
    total = sum(ours * repeat for *_, ours, _, repeat in timed)
    lines = []
    for name, shape, flops, ours, theirs, repeat in timed:
        rate = flops / ours / 1e9
        share = f"{rate / peak['total']:.0%}" if peak else "?"
        lines.append([name, shape, f"{ours * 1e6:.1f}", f"{rate:.0f}", share,
                      f"{theirs * 1e6:.1f}", f"{theirs / ours:.2f}",
                      f"{ours * repeat / seconds:.0%}"])  # fmt: skip
    lines.append(["all products", "", f"{total * 1e6:.1f}", "", "", "", "",
                  f"{total / seconds:.0%}"])  # fmt: skip
    lines.append([f"the rest of the {unit}", "", f"{(seconds - total) * 1e6:.1f}", "", "", "",
                  "", f"{(seconds - total) / seconds:.0%}"])  # fmt: skip
    table(["product", "shape", "fastnn µs", "GFLOP/s", "of peak", "NumPy µs",
           "NumPy / fastnn", f"of the {unit}"], lines)  # fmt: skip

    if args.perf:
        print(f"\nperf, {args.perf:g} s of the workload (self time, all threads):\n")
        print("\n".join(perf_profile(lambda: worker.measure(task), args.perf)))


if __name__ == "__main__":
    main()
