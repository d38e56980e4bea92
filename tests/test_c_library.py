"""csrc/ is a C library usable and testable from C alone: build csrc/tests/test_gemm.c
(and test_net.c, which test_native_backend.py runs) against it with csrc/tests/Makefile
(strict warnings: -std=c99 -Wall -Wextra -Werror), run test_gemm, expect success, and
expect a complete kernel table for each SIMD level of csrc/cpu/levels.mk, in its order
(off x86: the scalar level only).
"""

from __future__ import annotations

import os
import subprocess
import sys

from c_build import build, needs_c_toolchain, simd_levels

IS_X86 = os.uname().machine in ("x86_64", "amd64", "i686") if hasattr(os, "uname") else True


@needs_c_toolchain
def test_c_library_builds_warning_free_and_passes_its_test(tmp_path):
    exe = build("test_gemm", tmp_path, also=("test_net",))
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok:" in result.stdout
    tables = next(line for line in result.stdout.splitlines() if line.startswith("kernel tables:"))
    expected = simd_levels() if IS_X86 else ["scalar"]
    assert tables.split(":")[1].split() == expected
