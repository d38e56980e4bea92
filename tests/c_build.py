"""Build a C-only test program of csrc/tests with csrc/tests/Makefile, the one description
of how the C library is compiled outside setup.py (each CPU level's file with its flags
from csrc/cpu/levels.mk, every other file for the baseline). Used by test_c_library.py
and test_native_backend.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"
CC = os.environ.get("CC", "gcc").split()[0]
MAKE = shutil.which("make")

needs_c_toolchain = pytest.mark.skipif(
    shutil.which(CC) is None or MAKE is None,
    reason=f"needs a C compiler ({CC}) and make to build csrc/tests",
)


def openmp_flags(tmp: Path) -> str:
    """The Makefile's OPENMP: OpenMP where the compiler has it and FASTNN_NO_OPENMP is unset."""
    serial = os.environ.get("FASTNN_NO_OPENMP", "").strip().lower() in {"1", "true", "yes", "on"}
    flags = "-fopenmp -DFASTNN_HAVE_OPENMP=1"
    probe = tmp / "omp.c"
    probe.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
    built = subprocess.run([CC, *flags.split(), str(probe), "-o", str(tmp / "omp")])
    return "" if serial or built.returncode else flags


def build(program: str, tmp: Path, opt: str = "-O2", also: tuple[str, ...] = ()) -> Path:
    """csrc/tests/<program>.c (and the programs `also`) with the library, built under tmp
    at `opt`, warnings errors unless at -O0 (where gcc warns that it ignores the kernels'
    unroll pragmas); the executable."""
    out = tmp / "bin"
    command = [
        MAKE,
        "-s",
        "-C",
        str(CSRC / "tests"),
        f"-j{os.cpu_count() or 1}",
        f"CC={CC}",
        f"BIN={out}",
        f"OPT={opt}",
        f"WERROR={'' if opt == '-O0' else '-Werror'}",
        f"OPENMP={openmp_flags(tmp)}",
        *(str(out / name) for name in (program, *also)),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return out / program


def simd_levels() -> list[str]:
    """FNN_SIMD_LEVELS of csrc/cpu/levels.mk, lowest first."""
    for line in (CSRC / "cpu" / "levels.mk").read_text().splitlines():
        name, _, value = line.partition(":=")
        if name.strip() == "FNN_SIMD_LEVELS":
            return value.split()
    raise AssertionError("csrc/cpu/levels.mk has no FNN_SIMD_LEVELS line")
