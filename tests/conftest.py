"""Shared fixtures: the backends to run on, and the real data sets when present."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastnn import backends

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
