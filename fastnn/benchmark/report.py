"""The results as Markdown (medians; fastnn's ratio to every peer; training throughput
as a share of the FMA peak) and JSON, with the facts needed to read them: CPU and its
bf16 / AMX flags, cores, SIMD level, BLAS kernel, versions."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from . import peers as peer_registry
from .environment import describe_openblas
from .machine import describe_bf16
from .runner import Results
from .workloads import PEAK_SHARE_TASKS, SCALING_TASKS, TASK_BY_KEY, Task, gflops

NATIVE = "fastnn-native"
BF16 = "fastnn-bf16"
# The fastnn columns the ratio tables are taken against, in order.
BASELINES = (NATIVE, BF16)


@dataclass
class Row:
    """One line of the tables: a task at a thread count, or a W5 speed-up."""

    label: str
    threads: str
    unit: str
    higher_is_better: bool
    values: dict[str, list[float]]  # peer -> one value per round (W5: one ratio)


def rows(results: Results, tasks: list[Task], thread_counts: list[int], workloads) -> list[Row]:
    out = []
    for task in tasks:
        if task.workload not in workloads:
            continue  # run only because W5 needs it
        for threads in thread_counts:
            if not any(key == task.key and t == threads for key, t, _ in results.cells):
                continue  # not run at this thread count (--quick)
            values = {
                peer: cell.values
                for (key, t, peer), cell in results.cells.items()
                if key == task.key and t == threads and cell.values
            }
            out.append(Row(task.label, str(threads), task.unit, task.higher_is_better, values))
    if "W5" in workloads:
        out += scaling_rows(results, thread_counts)
    return out


def scaling_rows(results: Results, thread_counts: list[int]) -> list[Row]:
    """W5: median time at 1 thread / median time at the most threads, per peer."""
    top = max(thread_counts)
    if 1 not in thread_counts or top == 1:
        return []
    out = []
    for key in SCALING_TASKS:
        speedups = {}
        for (task, t, peer), cell in results.cells.items():
            faster = results.cells.get((key, top, peer))
            if task == key and t == 1 and cell.values and faster and faster.values:
                speedups[peer] = [statistics.median(cell.values) / statistics.median(faster.values)]
        label = f"W5 speed-up, W1 {TASK_BY_KEY[key].label.rsplit(' ', 1)[-1]}"
        out.append(Row(label, f"1→{top}", "×", True, speedups))
    return out


def fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _median_cell(values: list[float] | None) -> str:
    if not values:
        return "—"
    median = statistics.median(values)
    if len(values) < 3 or median == 0:
        return fmt(median)
    spread = (max(values) - min(values)) / 2 / median
    return f"{fmt(median)} ±{spread:.0%}"


def _ratio(row: Row, peer: str, base: str = NATIVE) -> str:
    mine, theirs = row.values.get(base), row.values.get(peer)
    if not mine or not theirs:
        return "—"
    a, b = statistics.median(mine), statistics.median(theirs)
    ratio = a / b if row.higher_is_better else b / a
    return f"{ratio:.2f}×"


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return out


def markdown(results: Results, meta: dict, table_rows: list[Row], peers: list[str]) -> str:
    labels = {p.name: p.label for p in peer_registry.PEERS}
    shown = list(peers)
    out = [f"## fastnn benchmark ({meta['date']})", ""]
    out += _context(results, meta)
    out += ["", "### Medians over interleaved rounds (± half the spread, max − min)", ""]
    header = ["workload", "threads", "unit", *(labels[p] for p in shown)]
    lines = [
        [r.label, r.threads, r.unit + (" ↑" if r.higher_is_better else " ↓")]
        + [_median_cell(r.values.get(p)) for p in shown]
        for r in table_rows
    ]
    out += _table(header, lines)
    for base in BASELINES:
        others = [p for p in shown if p != base]
        if base not in shown or not others or not any(base in r.values for r in table_rows):
            continue
        name = labels[base]
        out += ["", f"### {name} vs each peer: × faster (> 1: {name} wins)", ""]
        header = ["workload", "threads", *(labels[p] for p in others)]
        lines = [[r.label, r.threads] + [_ratio(r, p, base) for p in others] for r in table_rows]
        out += _table(header, lines)
    out += _peak_table(results, meta.get("fma_peak", {}), shown, labels)
    out += _notes(results, meta, peers, labels)
    return "\n".join(out) + "\n"


def peak_shares(results: Results, peaks: dict) -> dict[tuple[str, int], dict[str, float]]:
    """(task, threads) -> {peer: median GFLOP/s / the FMA peak at that thread count},
    for the tasks of PEAK_SHARE_TASKS that were measured."""
    shares: dict[tuple[str, int], dict[str, float]] = {}
    for key in PEAK_SHARE_TASKS:
        for (task, threads, peer), cell in results.cells.items():
            peak = peaks.get(threads)
            if task != key or not cell.values or not peak:
                continue
            rate = gflops(TASK_BY_KEY[task], statistics.median(cell.values))
            shares.setdefault((task, threads), {})[peer] = rate / peak["total"]
    return shares


def _peak_table(results: Results, peaks: dict, shown: list[str], labels: dict) -> list[str]:
    shares = peak_shares(results, peaks)
    if not shares:
        return []
    columns = [p for p in shown if any(p in row for row in shares.values())]
    out = [
        "",
        "### Share of the measured fp32 FMA peak (training: the forward and backward "
        "products' FLOPs per second)",
        "",
    ]
    lines = [
        [TASK_BY_KEY[task].label, str(threads), f"{peaks[threads]['total']:.0f}"]
        + [f"{row[p]:.0%}" if p in row else "—" for p in columns]
        for (task, threads), row in sorted(
            shares.items(), key=lambda item: (PEAK_SHARE_TASKS.index(item[0][0]), item[0][1])
        )
    ]
    header = ["workload", "threads", "peak GFLOP/s", *(labels[p] for p in columns)]
    return out + _table(header, lines)


def _context(results: Results, meta: dict) -> list[str]:
    machine, fastnn = meta["machine"], meta["machine"]["fastnn"]
    if fastnn.get("simd"):
        kernels = (
            f"SIMD {fastnn['simd']} (detected {fastnn.get('simd_detected')}), "
            f"OpenMP {'on' if fastnn.get('openmp') else 'off'}"
        )
    else:
        kernels = f"native backend unavailable ({fastnn.get('error', 'not built')})"
    lines = [
        f"- command: `{meta['command']}`",
        f"- CPU: {machine['cpu']}, {machine['cores_available']} cores available "
        f"({machine['cores_online']} online); threads T pin each peer's process to T cores",
        f"- fastnn {fastnn['version']}: {kernels}",
        f"- {describe_bf16(machine)}",
        f"- data: {meta['data']}; W1 epoch = {meta['train_rows']:,} rows",
        f"- rounds: {meta['settings']['rounds']}; W2: {meta['settings']['throughput_steps']} "
        f"batch(es) per measurement; W6: batches for {meta['settings']['sweep_gflop']:g} GFLOP "
        "(at most an epoch); W3, W4: median of timed blocks of calls",
    ]
    peaks = {t: p for t, p in meta.get("fma_peak", {}).items() if p}
    if peaks:
        lines.append(
            "- fp32 FMA peak measured now ("
            + ", ".join(f"{t} thr: {p['total']:.0f} GFLOP/s" for t, p in peaks.items())
            + f", {next(iter(peaks.values()))['isa']}); shares of it in the last table"
        )
    noise = _background(results)
    if noise:
        lines.append(noise)
    blas = _openblas(results)
    if blas:
        lines.append(
            f"- NumPy's BLAS: {blas}, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for every peer"
        )
    versions = []
    for hello in results.peers.values():
        if "versions" in hello:
            versions += [f"{k} {v}" for k, v in hello["versions"].items()]
    if versions:
        lines.append(f"- versions: {', '.join(dict.fromkeys(versions))}")
    return lines


def _background(results: Results) -> str:
    """How busy the rest of the machine kept the cores while peers were being timed."""
    loads = sorted(
        extra["background_cores"]
        for cell in results.cells.values()
        for extra in cell.extras
        if "background_cores" in extra
    )
    if not loads:
        return ""
    p90 = loads[min(len(loads) - 1, int(0.9 * len(loads)))]
    return (
        f"- background load while timing (cores busy with other processes): median "
        f"{statistics.median(loads):.2f}, 90th percentile {p90:.2f}"
    )


def _openblas(results: Results) -> str:
    for peer in ("numpy", "fastnn-numpy", "sklearn"):
        described = describe_openblas(results.peers.get(peer, {}).get("blas", []))
        if described:
            return described
    return ""


def _notes(results: Results, meta: dict, peers: list[str], labels: dict) -> list[str]:
    notes = []
    for peer in peers:
        answer = results.peers.get(peer, {})
        if "unavailable" in answer:
            notes.append(f"- {labels[peer]}: skipped: {answer['unavailable']}")
            continue
        reasons: dict[str, list[str]] = {}
        for (task, _threads, who), cell in results.cells.items():
            if who == peer and cell.skip:
                reasons.setdefault(cell.skip, [])
                key = TASK_BY_KEY[task].workload
                if key not in reasons[cell.skip]:
                    reasons[cell.skip].append(key)
        for reason, where in reasons.items():
            notes.append(f"- {labels[peer]}: {', '.join(where)} skipped: {reason}")
    losses = _sanity(results)
    if losses:
        notes.append(f"- sanity, mean loss of the last timed W1 SGD epoch: {losses}")
    return ["", "Notes:", "", *notes] if notes else []


def _sanity(results: Results) -> str:
    labels = {p.name: p.label for p in peer_registry.PEERS}
    top = max((t for (key, t, _p) in results.cells if key == "W1-sgd"), default=None)
    parts = [
        f"{labels[peer]} {cell.extras[-1]['loss']:.3f}"
        for (key, t, peer), cell in results.cells.items()
        if key == "W1-sgd" and t == top and cell.extras
    ]
    return ", ".join(parts)


def to_json(results: Results, meta: dict, table_rows: list[Row]) -> dict:
    return {
        **meta,
        "peers": results.peers,
        "cores": {str(k): v for k, v in results.cores.items()},
        "cells": [
            {
                "task": task,
                "threads": threads,
                "peer": peer,
                "unit": TASK_BY_KEY[task].unit,
                "median": statistics.median(cell.values) if cell.values else None,
                "values": cell.values,
                "extras": cell.extras,
                "skip": cell.skip,
            }
            for (task, threads, peer), cell in results.cells.items()
        ],
        "rows": [
            {"label": r.label, "threads": r.threads, "unit": r.unit, "values": r.values}
            for r in table_rows
        ],
        "peak_shares": [
            {"task": task, "threads": threads, "peer": peer, "share": share}
            for (task, threads), row in peak_shares(results, meta.get("fma_peak", {})).items()
            for peer, share in row.items()
        ],
    }
