"""The integer codes of csrc/fastnn.h equal those of fastnn/backends/spec.py.

Checked twice: in the header's text (works without a compiler) and as the compiled
module sees them (the values the kernels were built with).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from c_build import simd_levels

from fastnn.backends import native
from fastnn.backends.spec import Act, LayerKind, Loss, Metric, Opt, Precision

HEADER = Path(__file__).resolve().parents[1] / "csrc" / "fastnn.h"
ENUMS = {
    "FNN_ACT_": Act,
    "FNN_LOSS_": Loss,
    "FNN_OPT_": Opt,
    "FNN_LAYER_": LayerKind,
    "FNN_METRIC_": Metric,
    "FNN_PRECISION_": Precision,
}
SIMD = {f"FNN_SIMD_{name.upper()}": code for code, name in enumerate(simd_levels())}


def expected_codes() -> dict[str, int]:
    codes = {prefix + member.name: int(member) for prefix, enum in ENUMS.items() for member in enum}
    return {**codes, **SIMD}


def header_codes() -> dict[str, int]:
    """NAME = value pairs inside the header's `enum fnn_... { }` blocks."""
    text = HEADER.read_text()
    codes = {}
    for body in re.findall(r"enum\s+fnn_\w+\s*\{(.*?)\}", text, re.S):
        for name, value in re.findall(r"(FNN_\w+)\s*=\s*(\d+)", body):
            codes[name] = int(value)
    return codes


def test_header_enums_match_spec():
    found = header_codes()
    for name, value in expected_codes().items():
        assert found.get(name) == value, f"{name}: header {found.get(name)}, spec {value}"
    spec_names = set(expected_codes())
    extra = {n for n in found if n.startswith(tuple(ENUMS)) and n not in spec_names}
    assert not extra, f"codes in fastnn.h that spec.py lacks: {sorted(extra)}"


@pytest.mark.skipif(not native.AVAILABLE, reason=f"{native.IMPORT_ERROR}")
def test_compiled_codes_match_spec():
    from fastnn.backends import _native

    compiled = _native.C_CODES
    assert compiled == expected_codes()
    assert _native.SIMD_LEVELS == tuple(simd_levels())
