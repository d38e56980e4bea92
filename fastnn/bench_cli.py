"""``fastnn bench`` (also ``python -m fastnn bench``): fastnn native (fp32, and bf16 mixed
precision where fastnn has it) against its NumPy backend, a hand-written NumPy MLP,
PyTorch (fp32 and bf16 autocast), JAX, onnxruntime (fp32 and int8-quantized) and
scikit-learn on the workloads of the performance contract; prints a Markdown table of
medians, ratios and shares of the measured FMA peak.

    fastnn bench                        # everything, several minutes
    fastnn bench --quick                # about a minute: 3 rounds, 3,200 training rows,
                                        # W2 at the most threads only, W6 at 64 and 1024
    fastnn bench --workloads W1,W3 --threads 1,2 --peers fastnn-native,torch --json out.json

Workloads (the same data and thread count for every peer):
  W1  784-256-128-10 MLP, batch 128, SGD-momentum and Adam: seconds per epoch
  W2  784-2048-2048-10, batch 512, Adam: training samples per second
  W3  predict with W1's network: 1 sample (µs) and 10,000 samples (ms)
  W4  sgemm 1024³: GFLOP/s
  W5  W1's speed-up from 1 thread to the most threads asked for
  W6  784-W-10 for W = 64, 256, 1024, 4096, batch 128, Adam: samples per second
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .benchmark import data as bench_data
from .benchmark import machine, peers, report, runner
from .benchmark.environment import EMULATED_BF16
from .benchmark.peak import fma_peak
from .benchmark.workloads import WORKLOADS, parse_workloads, tasks_for

QUICK_ROWS = 3_200
QUICK_TOP_THREADS_ONLY = ("W2",)  # the costliest task (half of a round); its target is at 2 threads
QUICK_LEFT_OUT = ("W6-256", "W6-4096")  # W6 keeps its narrow end and its first target width


def _cores() -> int:
    return len(runner.cores_for(1 << 16))


def _thread_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--threads takes integers such as 1,2; got {text!r}"
        ) from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"--threads must be integers >= 1; got {text!r}")
    return counts


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text}")
    return value


def _checked(parse):
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def build_parser(prog: str = "fastnn bench") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds, 3,200 rows, W2 at the most threads only, W6 at two widths: ~1 min",
    )
    parser.add_argument(
        "--workloads",
        type=_checked(parse_workloads),
        default=WORKLOADS,
        help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--threads",
        type=_thread_counts,
        default=None,
        help=f"comma-separated thread counts (default: 1,{_cores()}, the cores available)",
    )
    parser.add_argument(
        "--peers",
        type=_checked(peers.parse_peers),
        default=None,
        help=f"comma-separated subset of {','.join(p.name for p in peers.PEERS)} (default: all;"
        " the missing ones are skipped with a note; torch-bf16 runs where the CPU has bf16"
        " instructions, or where named here)",
    )
    parser.add_argument("--rounds", type=_positive, default=None, help="default 5 (quick: 3)")
    parser.add_argument(
        "--samples", type=_positive, default=None, help="training rows (default: all; quick 3,200)"
    )
    parser.add_argument(
        "--data",
        choices=("auto", "fashion-mnist", "random"),
        default="auto",
        help="Fashion-MNIST, random data of its shapes, or the former where installed (auto)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table to a file")
    return parser


def settings_for(args) -> runner.Settings:
    # a peer named in --peers is measured even where it would be emulated (slowly)
    named = args.peers or ()
    environment = {EMULATED_BF16: "1"} if "torch-bf16" in named else {}
    if args.quick:
        return runner.Settings(
            rounds=args.rounds or 3,
            throughput_steps=1,
            sweep_gflop=4.0,
            budget_seconds=0.03,
            min_blocks=1,
            top_threads_only=QUICK_TOP_THREADS_ONLY,
            environment=environment,
        )
    return runner.Settings(rounds=args.rounds or 5, environment=environment)


def main(argv: Sequence[str] | None = None, prog: str = "fastnn bench") -> int:
    args = build_parser(prog).parse_args(argv)
    peer_names = list(args.peers or (p.name for p in peers.PEERS))
    thread_counts = args.threads or sorted({1, _cores()})
    settings = settings_for(args)
    samples = args.samples or (QUICK_ROWS if args.quick else None)
    tasks = tasks_for(args.workloads)
    if args.quick:
        tasks = [task for task in tasks if task.key not in QUICK_LEFT_OUT]

    started = time.perf_counter()

    def log(message: str) -> None:
        elapsed = time.perf_counter() - started
        print(f"[fastnn bench {elapsed:5.1f} s] {message}", file=sys.stderr, flush=True)

    data = bench_data.load(args.data, samples)
    log(f"data: {data.source}, {data.X_train.shape[0]:,} training rows")
    peaks = {threads: fma_peak(runner.cores_for(threads)) for threads in thread_counts}
    with tempfile.TemporaryDirectory(prefix="fastnn-bench-") as folder:
        data.save(Path(folder))
        results = runner.run(peer_names, tasks, thread_counts, Path(folder), settings, log)
    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": f"{prog} {shlex.join(sys.argv[1:] if argv is None else argv)}".strip(),
        "machine": machine.machine_facts(),
        "data": data.source,
        "train_rows": int(data.X_train.shape[0]),
        "threads": thread_counts,
        "settings": vars(settings),
        "fma_peak": peaks,
        "seconds": round(time.perf_counter() - started, 1),
    }
    table_rows = report.rows(results, tasks, thread_counts, args.workloads)
    text = report.markdown(results, meta, table_rows, peer_names)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report.to_json(results, meta, table_rows), out, indent=1)
    log(f"done in {meta['seconds']} s")
    return 0
