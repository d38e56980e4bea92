"""Data-parallel scaling on this machine: W1 and W2 at 1 rank x 1 thread, 1 rank x 2
threads and 2 ranks x 1 thread (samples/s, Allreduce time per step, efficiency).

    python bench/distributed.py                     # W1 and W2, 3 layouts, 3 rounds (~3 min)
    python bench/distributed.py --workloads W2 --steps 20 --rounds 5 --json out.json

Each layout runs in its own job (``mpiexec -n R``, ``OMP_NUM_THREADS=T``), warms up, then
times ``--steps`` steps of the global batch (W1: 784-256-128-10, batch 128; W2:
784-2048-2048-10, batch 512; Adam; float32; synthetic rows of Fashion-MNIST's shape).
One rank runs fit's single-process step (the fused native train_step); two ranks run
the data-parallel step of fastnn.distributed (DataParallel.run_batch: the split
gradient, the MPI Allreduce of the flat gradient buffer, the same update everywhere).
Efficiency is the speed-up over 1 rank x 1 thread divided by the cores used. Layouts
alternate over ``--rounds`` rounds (the order rotated) and the table shows each one's
median round; the machine is shared, so the load average is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = {"W1": ((784, 256, 128, 10), 128), "W2": ((784, 2048, 2048, 10), 512)}
LAYOUTS = ((1, 1), (1, 2), (2, 1))  # (ranks, threads per rank)
ROWS = 8192


def _model(sizes):
    import fastnn as fn

    layers = [fn.Dense(n, "relu") for n in sizes[1:-1]] + [fn.Dense(sizes[-1], "softmax")]
    model = fn.Model(layers, input_dim=sizes[0], seed=0, dtype="float32")
    model.compile(loss="cross_entropy", optimizer=fn.optimizers.Adam(1e-3))
    return model


def worker(name: str, steps: int, warmup: int) -> dict:
    """One layout's measurement on this rank (run under mpiexec)."""
    import fastnn as fn

    sizes, batch = WORKLOADS[name]
    rng = np.random.default_rng(0)
    X = rng.random((ROWS, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], ROWS)
    model = _model(sizes)
    model.optimizer.build(model.params.size, model.dtype)
    size, rank, strategy = 1, 0, None
    if os.environ.get("BENCH_RANKS", "1") != "1":
        import fastnn.distributed as fnd

        fnd.init()
        size, rank = fnd.size(), fnd.rank()
        strategy = fnd.DistributedOptimizer(model.optimizer).strategy
    session = model.training_session(batch)  # what fit trains through
    session.bind_data(X, y)
    order = rng.permutation(ROWS)
    seconds = []
    for step in range(warmup + steps):
        start = (step * batch) % (ROWS - batch)
        rows = order[start : start + batch]
        if strategy is not None:
            strategy.world.barrier()
        began = time.perf_counter()
        if strategy is None:
            session.train_step(rows, 1e-3, step + 1, step)
        else:
            strategy.run_batch(session, rows, 1e-3, step + 1, step)
        seconds.append(time.perf_counter() - began)
        if step + 1 == warmup and strategy is not None:
            strategy.allreduce_seconds = 0.0
    timed = np.array(seconds[warmup:])
    allreduce = strategy.allreduce_seconds / steps if strategy is not None else 0.0
    whole = buckets = 0.0
    if strategy is not None:  # one Allreduce of the flat buffer vs one per layer
        whole, buckets = _allreduce_layouts(strategy.world, session.grads, model.net())
    return {
        "workload": name,
        "ranks": size,
        "rank": rank,
        "threads": fn.get_num_threads(),
        "step_ms": float(np.median(timed) * 1e3),
        "samples_per_s": float(batch / np.median(timed)),
        "allreduce_ms": allreduce * 1e3,
        "allreduce_alone_ms": whole * 1e3,
        "allreduce_per_layer_ms": buckets * 1e3,
        "gradient_mb": model.params.nbytes / 1e6,
    }


def _allreduce_layouts(world, grads, net, repeats: int = 10) -> tuple[float, float]:
    """Median seconds of one Allreduce of the whole gradient buffer, and of one per
    Dense layer (the buckets DDP would start as backward reaches each layer)."""
    layers = [(spec.w_offset, spec.w_offset + spec.n_in * spec.n_out + spec.n_out)
              for spec in net.layers if spec.kind == 0]  # fmt: skip
    results = []
    for pieces in ([(0, grads.size)], layers):
        times = []
        for _ in range(repeats):
            world.barrier()
            began = time.perf_counter()
            for start, stop in pieces:
                world.allreduce(grads[start:stop], "bench")
            times.append(time.perf_counter() - began)
        results.append(float(np.median(times)))
    return results[0], results[1]


def _mpiexec() -> str:
    beside_python = str(Path(sys.executable).parent)  # where the mpich wheel puts it
    found = shutil.which("mpiexec", path=beside_python) or shutil.which("mpiexec")
    if found is None:
        raise SystemExit("bench/distributed.py needs mpiexec: pip install 'fastnn[mpi]'")
    return found


def run_layout(name: str, ranks: int, threads: int, steps: int, warmup: int) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "BENCH_RANKS": str(ranks),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with tempfile.TemporaryDirectory() as out:
        here = [sys.executable, __file__, "--worker", name, "--steps", str(steps)]
        command = [*here, "--warmup", str(warmup), "--out", out]
        if ranks > 1:
            command = [_mpiexec(), "-n", str(ranks), *command]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"{name} {ranks}x{threads} failed:\n{done.stderr[-3000:]}")
        results = [json.loads(path.read_text()) for path in Path(out).glob("rank*.json")]
    return max(results, key=lambda r: r["step_ms"])  # the slowest rank sets the pace


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W1,W2")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(args.worker, args.steps, args.warmup)
        Path(args.out, f"rank{result['rank']}.json").write_text(json.dumps(result))
        return 0
    rows = []
    for name in args.workloads.split(","):
        runs: dict = {layout: [] for layout in LAYOUTS}
        for round_ in range(args.rounds):  # interleaved rounds, the order rotated
            order = LAYOUTS[round_ % len(LAYOUTS) :] + LAYOUTS[: round_ % len(LAYOUTS)]
            for ranks, threads in order:
                load = os.getloadavg()[0]
                result = run_layout(name, ranks, threads, args.steps, args.warmup)
                result["load_before"] = load
                runs[(ranks, threads)].append(result)
        for layout in LAYOUTS:  # the round with the median samples/s of each layout
            ordered = sorted(runs[layout], key=lambda r: r["samples_per_s"])
            median = dict(ordered[len(ordered) // 2])
            median["rounds"] = [r["samples_per_s"] for r in runs[layout]]
            rows.append(median)
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def _table(rows) -> str:
    lines = [
        f"CPU: {_cpu_name()}, {len(os.sched_getaffinity(0))} cores; "
        "load average (1 min) before each layout in the last column",
        "| workload | ranks x threads | samples/s | step ms | Allreduce ms/step (in the step; "
        "alone; per layer) | speed-up | efficiency | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = {r["workload"]: r for r in rows if r["ranks"] == 1 and r["threads"] == 1}
    for r in rows:
        speedup = r["samples_per_s"] / base[r["workload"]]["samples_per_s"]
        cores = r["ranks"] * r["threads"]
        lines.append(
            f"| {r['workload']} | {r['ranks']} x {r['threads']} | {r['samples_per_s']:,.0f} | "
            f"{r['step_ms']:.1f} | {_allreduce(r)} | {speedup:.2f}x | "
            f"{speedup / cores:.0%} | {r['load_before']:.1f} |"
        )
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _allreduce(r) -> str:
    if r["ranks"] == 1:
        return "-"
    return (
        f"{r['allreduce_ms']:.2f}; {r['allreduce_alone_ms']:.2f}; {r['allreduce_per_layer_ms']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
