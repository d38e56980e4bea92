"""The results as Markdown (medians, then fastnn native's ratio to every peer) and JSON,
with the facts needed to read them: CPU, cores, SIMD level, BLAS kernel, versions."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass

from . import peers as peer_registry
from .runner import Results
from .workloads import SCALING_TASKS, TASK_BY_KEY, Task

NATIVE = "fastnn-native"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    import fastnn

    facts = {
        "cpu": cpu_model(),
        "cores_online": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        info = fastnn.info()
    except Exception as error:  # a broken native build must not hide the other results
        info = {"version": fastnn.__version__, "error": f"{type(error).__name__}: {error}"}
    keys = ("version", "simd", "simd_detected", "openmp", "threads", "error")
    facts["fastnn"] = {key: info[key] for key in keys if key in info}
    return facts


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


def _ratio(row: Row, peer: str) -> str:
    mine, theirs = row.values.get(NATIVE), row.values.get(peer)
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
    others = [p for p in shown if p != NATIVE]
    if NATIVE in shown and others:
        out += ["", "### fastnn native vs each peer: × faster (> 1: fastnn native wins)", ""]
        header = ["workload", "threads", *(labels[p] for p in others)]
        lines = [[r.label, r.threads] + [_ratio(r, p) for p in others] for r in table_rows]
        out += _table(header, lines)
    out += _notes(results, meta, peers, labels)
    return "\n".join(out) + "\n"


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
        f"- data: {meta['data']}; W1 epoch = {meta['train_rows']:,} rows",
        f"- rounds: {meta['settings']['rounds']}; W2: {meta['settings']['throughput_steps']} "
        "batch(es) per measurement; W3, W4: median of timed blocks of calls",
    ]
    peaks = {t: p for t, p in meta.get("fma_peak", {}).items() if p}
    if peaks:
        lines.append(
            "- fp32 FMA peak measured now ("
            + ", ".join(f"{t} thr: {p['total']:.0f} GFLOP/s" for t, p in peaks.items())
            + f", {next(iter(peaks.values()))['isa']}); W4 is a share of it below"
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
        for lib in results.peers.get(peer, {}).get("blas", []):
            if lib.get("internal_api") == "openblas":
                return f"OpenBLAS {lib.get('version')} kernel {lib.get('architecture')}"
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
    notes += _peak_shares(results, meta.get("fma_peak", {}), labels)
    losses = _sanity(results)
    if losses:
        notes.append(f"- sanity, mean loss of the last timed W1 SGD epoch: {losses}")
    return ["", "Notes:", "", *notes] if notes else []


def _peak_shares(results: Results, peaks: dict, labels: dict) -> list[str]:
    lines = []
    for threads, peak in peaks.items():
        shares = [
            f"{labels[peer]} {statistics.median(cell.values) / peak['total']:.0%}"
            for (key, t, peer), cell in results.cells.items()
            if key == "W4" and t == threads and cell.values and peak
        ]
        if shares:
            lines.append(f"- W4 at {threads} thread(s), share of the FMA peak: {', '.join(shares)}")
    return lines


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
    }
