"""The native runtime layer: SIMD level detection/forcing and the thread count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from c_build import simd_levels

nv = pytest.importorskip("fastnn.backends._native")

LEVELS = tuple(simd_levels())  # csrc/cpu/levels.mk


@pytest.fixture
def restore_runtime():
    level, threads = nv.simd_level(), nv.get_num_threads()
    yield
    nv.set_simd_level(level)
    nv.set_num_threads(threads)


def run_python(code: str, **env: str) -> str:
    """stdout of `code` run in a fresh interpreter with `env` added to the environment."""
    full_env = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, check=True
    )
    return result.stdout.strip()


def test_levels_are_named_and_ordered():
    assert nv.SIMD_LEVELS == LEVELS
    assert nv.simd_detected() in LEVELS
    assert LEVELS.index(nv.simd_level()) <= LEVELS.index(nv.simd_detected())


def test_every_level_up_to_the_detected_one_can_be_forced(restore_runtime):
    top = LEVELS.index(nv.simd_detected())
    for code, name in enumerate(LEVELS):
        expected = LEVELS[min(code, top)]
        assert nv.set_simd_level(name) == expected
        assert nv.simd_level() == expected
        assert nv.set_simd_level(code) == expected
    assert nv.set_simd_level(" AVX2 ") == LEVELS[min(1, top)]


@pytest.mark.parametrize("bad", ["sse", "", "avx-512", 3, -1])
def test_unknown_levels_are_refused(bad, restore_runtime):
    with pytest.raises(ValueError, match="SIMD level"):
        nv.set_simd_level(bad)


@pytest.mark.parametrize("bad", [1.0, None, True])
def test_level_of_wrong_type_is_refused(bad, restore_runtime):
    with pytest.raises(TypeError, match="SIMD level"):
        nv.set_simd_level(bad)


@pytest.mark.parametrize(
    ("value", "expected_code"), [("scalar", 0), ("AVX2", 1), ("avx512", 2), ("bogus", None)]
)
def test_environment_forces_the_level_at_first_use(value, expected_code):
    top = LEVELS.index(nv.simd_detected())
    expected = LEVELS[top if expected_code is None else min(expected_code, top)]
    code = "from fastnn.backends import _native as nv; print(nv.simd_level())"
    assert run_python(code, FASTNN_SIMD=value) == expected


def test_threads_can_be_set_and_read(restore_runtime):
    nv.set_num_threads(1)
    assert nv.get_num_threads() == 1
    nv.set_num_threads(3)
    assert nv.get_num_threads() == (3 if nv.openmp_enabled() else 1)


@pytest.mark.parametrize("bad", [0, -2])
def test_nonpositive_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="threads"):
        nv.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_thread_count_of_wrong_type_is_refused(bad):
    with pytest.raises(TypeError, match="threads"):
        nv.set_num_threads(bad)


@pytest.mark.skipif(not nv.openmp_enabled(), reason="built without OpenMP")
def test_default_thread_count_follows_openmp():
    code = "from fastnn.backends import _native as nv; print(nv.get_num_threads())"
    assert run_python(code, OMP_NUM_THREADS="1") == "1"
    assert run_python(code, OMP_NUM_THREADS="3") == "3"
    if hasattr(os, "sched_getaffinity"):
        expected = str(len(os.sched_getaffinity(0)))
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert result.stdout.strip() == expected


FORK_CODE = """
import os
import numpy as np
from fastnn.backends import _native as nv
nv.set_num_threads(2)
rng = np.random.default_rng(0)
a = rng.standard_normal((256, 300)).astype(np.float32)
b = rng.standard_normal((300, 256)).astype(np.float32)
want = nv.gemm(a, b)  # starts the pool's worker
pid = os.fork()
if pid == 0:  # the child has no worker thread: calls must still finish, and agree
    os._exit(0 if all(np.array_equal(nv.gemm(a, b), want) for _ in range(20)) else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), np.array_equal(nv.gemm(a, b), want))
"""


@pytest.mark.skipif(not nv.openmp_enabled(), reason="built without threads")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_thread_pool_survives_fork():
    result = subprocess.run(
        [sys.executable, "-c", FORK_CODE], capture_output=True, text=True, timeout=120,
        check=True,
    )  # fmt: skip
    assert result.stdout.split() == ["0", "True"]
