"""The CPU levels are listed once, in csrc/cpu/levels.mk, and everything else agrees with
it: one translation unit csrc/cpu/<level>.c per level with a flags line, the enum
fnn_simd of fastnn.h, the tables runtime.c hands out and cpu.h declares, the Python
SIMD_LEVELS; setup.py and csrc/tests/Makefile read levels.mk instead of naming levels.
(That every table is complete is checked in C: csrc/tests/test_gemm.c, run by
test_c_library.py, which also compares the tables' names with levels.mk.)

This is the test that docs/architecture.md's "Add a CPU level" recipe runs first: it
names the step a half-added level misses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from c_build import simd_levels

ROOT = Path(__file__).resolve().parents[1]
CPU = ROOT / "csrc" / "cpu"
LEVELS = simd_levels()


def flags_lines() -> dict[str, str]:
    text = (CPU / "levels.mk").read_text()
    return dict(re.findall(r"^FNN_CFLAGS_(\w+)\s*:=(.*)$", text, re.M))


def test_the_levels_start_with_the_scalar_one_and_are_unique():
    assert LEVELS[0] == "scalar" and len(set(LEVELS)) == len(LEVELS)


def bf16_levels() -> list[str]:
    """FNN_BF16_LEVELS of csrc/cpu/levels.mk (above the portable level), lowest first."""
    found = re.search(r"^FNN_BF16_LEVELS\s*:=(.*)$", (CPU / "levels.mk").read_text(), re.M)
    return found.group(1).split() if found else []


def test_each_level_is_one_translation_unit_with_its_flags():
    files = sorted(p.stem for p in CPU.glob("*.c"))
    flags = flags_lines()
    assert sorted(flags) == files, "every csrc/cpu/<level>.c needs a FNN_CFLAGS_<level> line"
    assert set(LEVELS) <= set(files), "a SIMD level without its csrc/cpu/<level>.c"
    assert set(bf16_levels()) <= set(files), "a bf16 level without its csrc/cpu/<level>.c"
    assert not set(LEVELS) & set(bf16_levels()), "a level on both axes"
    assert flags["scalar"].strip() == "", "the scalar level is the target's baseline"
    assert "native" not in " ".join(flags.values()), "never -march=native"
    for level in LEVELS:
        source = (CPU / f"{level}.c").read_text()
        assert re.search(rf"^#define FNN_ISA {level}$", source, re.M), f"{level}.c: FNN_ISA"
        assert f"const fnn_cpu_kernels fnn_cpu_{level} = FNN_CPU_TABLE;" in source


def test_fastnn_h_enumerates_the_levels_in_order():
    header = (ROOT / "csrc" / "fastnn.h").read_text()
    body = re.search(r"enum fnn_simd\s*\{(.*?)\}", header, re.S).group(1)
    codes = dict(re.findall(r"FNN_SIMD_(\w+)\s*=\s*(\d+)", body))
    assert {name.lower(): int(code) for name, code in codes.items()} == {
        level: code for code, level in enumerate(LEVELS)
    }


def test_runtime_hands_out_a_table_per_level_and_cpu_h_declares_them():
    runtime = (ROOT / "csrc" / "runtime" / "runtime.c").read_text()
    cpu_h = (CPU / "cpu.h").read_text()
    for level in LEVELS:
        assert f"[FNN_SIMD_{level.upper()}] = &fnn_cpu_{level}," in runtime, level
        assert f"extern const fnn_cpu_kernels fnn_cpu_{level};" in cpu_h, level


def test_the_build_files_name_no_level_of_their_own():
    for build_file in ("setup.py", "csrc/tests/Makefile", "tests/c_build.py"):
        text = (ROOT / build_file).read_text()
        named = [level for level in LEVELS[1:] if re.search(rf"\b{level}\b", text)]
        assert not named, f"{build_file} names {named}: read csrc/cpu/levels.mk instead"


def test_python_lists_the_same_levels():
    native = pytest.importorskip("fastnn.backends._native")
    assert list(native.SIMD_LEVELS) == LEVELS


def test_the_bf16_levels_are_listed_alike():
    """The bf16 axis (docs/architecture.md): each level of FNN_BF16_LEVELS is a file that
    exports its table, declared in cpu.h and handed out by runtime.c in enum fnn_bf16's
    order, after the portable level; its flags include the AVX-512 level's (its files
    are AVX-512 code too), and each level's flags include the one's below."""
    levels = bf16_levels()
    assert levels, "csrc/cpu/levels.mk has no FNN_BF16_LEVELS line"
    header = (ROOT / "csrc" / "fastnn.h").read_text()
    body = re.search(r"enum fnn_bf16\s*\{(.*?)\}", header, re.S).group(1)
    codes = dict(re.findall(r"FNN_BF16_(\w+)\s*=\s*(\d+)", body))
    assert {name.lower(): int(code) for name, code in codes.items()} == {
        level: code for code, level in enumerate(["portable", *levels])
    }
    runtime = (ROOT / "csrc" / "runtime" / "runtime.c").read_text()
    names = ", ".join(f'"{level}"' for level in ["portable", *levels])
    assert f"bf16_names[] = {{{names}}};" in runtime, "runtime.c's FASTNN_BF16 names"
    cpu_h = (CPU / "cpu.h").read_text()
    flags = flags_lines()
    below = set(flags[LEVELS[-1]].split())
    for level in levels:
        source = (CPU / f"{level}.c").read_text()
        assert re.search(rf"^#define FNN_ISA {level}$", source, re.M), f"{level}.c: FNN_ISA"
        assert f"const struct gemm_bf16_kernels *const fnn_bf16_{level} =" in source, level
        assert f"[FNN_BF16_{level.upper()}] = &fnn_bf16_{level}," in runtime, level
        assert f"extern const struct gemm_bf16_kernels *const fnn_bf16_{level};" in cpu_h
        assert below <= set(flags[level].split()), f"{level}'s flags lack the level below's"
        below = set(flags[level].split())
    native = pytest.importorskip("fastnn.backends._native")
    assert list(native.BF16_LEVELS) == ["portable", *levels]
