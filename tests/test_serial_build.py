"""The build without OpenMP (FASTNN_NO_OPENMP=1, as with a compiler that lacks it) is
serial and passes the native kernel tests: it is built here, in a copy of the tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL_TESTS = [
    "tests/test_gemm.py",
    "tests/test_runtime.py",
    "tests/test_native_kernels.py",
    "tests/test_native_backend.py",
]


@pytest.mark.slow
def test_serial_build_passes_the_kernel_tests(tmp_path):
    copy = tmp_path / "fastnn-serial"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", "build", "*.so", "*.egg-info", "__pycache__", ".hypothesis", ".benchmarks"
        ),
    )
    for generated in copy.glob("fastnn/backends/_native*.c"):
        generated.unlink()  # Cython's output: regenerated for this build
    env = {**os.environ, "FASTNN_NO_OPENMP": "1", "PYTHONPATH": str(copy)}
    env.pop("OMP_NUM_THREADS", None)
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "-fopenmp" not in build.stdout + build.stderr
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fastnn, fastnn.backends._native as n; "
            "print(fastnn.__file__); print(n.openmp_enabled(), n.get_num_threads())",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr
    where, flags = probe.stdout.splitlines()
    assert where.startswith(str(copy)), f"imported the wrong fastnn: {where}"
    assert flags == "False 1"
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *KERNEL_TESTS],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout
