"""csrc/ is a C library usable and testable from C alone: build csrc/tests/test_gemm.c
against it with strict warnings (-std=c99 -Wall -Wextra -Werror), run it, expect success.

Each file gets the flags setup.py gives it (ISA flags for *_avx512.c / *_avx2.c), and
OpenMP when the compiler has it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
CC = os.environ.get("CC", "gcc").split()[0]
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{CSRC}"]
ISA = {
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"],
    "avx2": ["-mavx2", "-mfma"],
}
IS_X86 = os.uname().machine in ("x86_64", "amd64", "i686") if hasattr(os, "uname") else True

pytestmark = pytest.mark.skipif(shutil.which(CC) is None, reason=f"no C compiler ({CC})")


def sources() -> list[Path]:
    """The library (every csrc C file but the tests) and the test program."""
    library = [p for p in sorted(CSRC.rglob("*.c")) if "tests" not in p.relative_to(CSRC).parts]
    if not IS_X86:
        library = [p for p in library if not p.stem.endswith(tuple("_" + i for i in ISA))]
    return [*library, CSRC / "tests" / "test_gemm.c"]


def openmp_flags(tmp: Path) -> list[str]:
    probe = tmp / "omp.c"
    probe.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
    flags = ["-fopenmp", "-DFASTNN_HAVE_OPENMP=1"]
    ok = subprocess.run([CC, *flags, str(probe), "-o", str(tmp / "omp")], capture_output=True)
    return flags if ok.returncode == 0 else []


def compile_one(index: int, src: Path, tmp: Path, extra: list[str]) -> str:
    isa = next((i for i in ISA if src.stem.endswith("_" + i)), None)
    obj = tmp / f"{index}_{src.stem}.o"
    cmd = [CC, *FLAGS, *extra, *ISA.get(isa, []), "-c", str(src), "-o", str(obj)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    return str(obj)


def build(tmp: Path, extra: list[str]) -> Path:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = [pool.submit(compile_one, i, src, tmp, extra) for i, src in enumerate(sources())]
        objects = [job.result() for job in jobs]
    exe = tmp / "test_gemm"
    result = subprocess.run(
        [CC, *extra, *objects, "-lm", "-o", str(exe)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return exe


def test_c_library_builds_warning_free_and_passes_its_test(tmp_path):
    exe = build(tmp_path, openmp_flags(tmp_path))
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok:" in result.stdout
