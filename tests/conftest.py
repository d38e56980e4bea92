"""Shared fixtures: the backends to run on, and the real data sets when present."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastnn import backends

try:  # NumPy's BLAS on one thread: the reference backend needs no speed here, and
    # OpenBLAS's spinning workers would otherwise fight the native kernels' OpenMP
    # threads for the cores (each call then waits for the other's spin to time out).
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
except ImportError:  # pragma: no cover - threadpoolctl is in the test extras
    pass

BACKENDS = ["numpy"] + (["native"] if backends.native_available() else [])
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each available backend by name (native is missing only when its build failed,
    which CI treats as a failure: see test_native_is_available)."""
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
