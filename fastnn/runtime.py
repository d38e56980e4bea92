"""Threads and build facts: set_num_threads, get_num_threads, info."""

from __future__ import annotations

import os
import platform

import numpy as np

from . import backends
from ._version import __version__
from .validation import check_int


def _native_module():
    """fastnn.backends.native when its compiled module loads, else None."""
    try:
        from .backends import native
    except ImportError:  # pragma: no cover - only a broken install lacks the file
        return None
    return native if native.AVAILABLE else None


def set_num_threads(n: int) -> None:
    """Threads the native kernels use (results do not depend on it, only speed does)."""
    n = check_int("n", n, 1)
    native = _native_module()
    if native is None:
        raise RuntimeError("set_num_threads needs the native backend, which is not available")
    native.set_num_threads(n)


def get_num_threads() -> int:
    """Threads the native kernels use: by default the cores available to this process
    (OMP_NUM_THREADS, when set, decides)."""
    native = _native_module()
    return native.get_num_threads() if native is not None else 1


def info() -> dict:
    """What this fastnn is and runs on: version, default backend, SIMD and bf16 levels
    in use and detected, OpenMP, threads."""
    native = _native_module()
    facts = {
        "version": __version__,
        "backend": backends.default_name(),
        "native_available": native is not None,
        "simd": None,
        "simd_detected": None,
        "bf16": None,
        "bf16_detected": None,
        "openmp": False,
        "threads": 1,
        "cpu": platform.processor() or platform.machine(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if native is not None:
        facts.update(native.info())
    else:
        from .backends import native as failed

        facts["native_error"] = str(failed.IMPORT_ERROR)
    return facts
