"""Facts about the machine that the numbers depend on: the CPU model, its cores, the
vector and matrix instructions it has (bf16 and AMX included), and what fastnn chose."""

from __future__ import annotations

import os
import platform

# /proc/cpuinfo flags worth printing beside the figures: the fp32 SIMD width, the bf16
# dot products (AVX-512 BF16), the AMX tiles and their bf16 / int8 products, and the
# int8 dot products onnxruntime's quantized kernels use.
CAPABILITY_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "avx512_vnni",
    "avx_vnni",
)
BF16_FLAGS = ("avx512_bf16", "amx_tile", "amx_bf16")


def cpu_model(cpuinfo: str | None = None) -> str:
    for line in (_read_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo: str | None = None) -> dict[str, bool]:
    """{flag: present} for CAPABILITY_FLAGS, from the first processor's ``flags`` line
    ({} where /proc/cpuinfo has none: not Linux, not x86)."""
    for line in (_read_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        if line.startswith("flags"):
            present = set(line.split(":", 1)[1].split())
            return {flag: flag in present for flag in CAPABILITY_FLAGS}
    return {}


def _read_cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return info.read()
    except OSError:
        return ""


def fastnn_facts() -> dict:
    """fastnn.info()'s kernel choices: SIMD level, OpenMP, threads, and any bf16 / AMX
    level it reports (keys naming bf16, amx or precision)."""
    import fastnn

    try:
        info = fastnn.info()
    except Exception as error:  # a broken native build must not hide the other results
        return {"version": fastnn.__version__, "error": f"{type(error).__name__}: {error}"}
    keys = ("version", "simd", "simd_detected", "openmp", "threads", "error")
    facts = {key: info[key] for key in keys if key in info}
    facts["bf16"] = {
        key: value
        for key, value in info.items()
        if any(word in key.lower() for word in ("bf16", "amx", "precision"))
    }
    return facts


def machine_facts() -> dict:
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores_online": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "fastnn": fastnn_facts(),
    }


def describe_bf16(facts: dict) -> str:
    """One line: the CPU's bf16 / AMX flags, and fastnn's bf16 level where it says."""
    flags = facts.get("cpu_flags") or {}
    if flags:
        cpu = ", ".join(f"{flag} {'yes' if flags.get(flag) else 'no'}" for flag in BF16_FLAGS)
        int8 = [flag for flag in ("amx_int8", "avx512_vnni", "avx_vnni") if flags.get(flag)]
        cpu += f"; int8 dot products: {', '.join(int8) or 'none (AVX2 madd only)'}"
    else:
        cpu = "flags unknown (no /proc/cpuinfo)"
    levels = facts.get("fastnn", {}).get("bf16") or {}
    fastnn = (
        ", ".join(f"{key} {value}" for key, value in levels.items())
        if levels
        else "no bf16 level in fastnn.info()"
    )
    return f"CPU bf16 / AMX: {cpu}; fastnn: {fastnn}"
