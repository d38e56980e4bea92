"""bf16 mixed precision, kernel by kernel: the rounding against its NumPy twin (bit for bit),
and gemm(precision="bf16") at every bf16 level the host has against the reference of the
bf16-rounded operands, on awkward shapes, layouts and epilogues. Levels the CPU lacks are
skipped, saying why (`pytest -rs`); their kernels' logic is still run here, emulated
(csrc/tests/test_bf16_emulated.c, test_emulated_isa_kernels below).

Tolerance: a bf16 product of two bf16 values is exact in float32, so every level computes
float32 sums of the same exact terms, in its own order; each element is within the float
summation bound 2 (k + 4) 2^-24 sum|terms| of the double-precision sum. On small
integers every sum is exact, so every level gives the very same bits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from c_build import build, needs_c_toolchain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn.backends import reference

nv = pytest.importorskip("fastnn.backends._native")

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_LOCK = threading.Lock()
SIMD = nv.SIMD_LEVELS[: nv.SIMD_LEVELS.index(nv.simd_detected()) + 1]
# The portable level runs the float GEMM of the SIMD level in use: each of them.
COMBOS = [("portable", simd) for simd in SIMD] + [("avx512_bf16", "avx512"), ("amx", "avx512")]
MISSING = {
    "avx512_bf16": "this CPU lacks AVX512_BF16 (vdpbf16ps)",
    "amx": "this CPU lacks AMX-BF16 tiles, or Linux refused the tile permission",
}


def _available(level: str) -> bool:
    return nv.BF16_LEVELS.index(level) <= nv.BF16_LEVELS.index(nv.bf16_detected())


@pytest.fixture(params=COMBOS, ids=[f"{b}-{s}" for b, s in COMBOS])
def bf16_level(request):
    """Run the test at a bf16 level (and the SIMD level under it), restoring both."""
    level, simd = request.param
    if not _available(level):
        pytest.skip(f"bf16 level {level}: {MISSING[level]} (test_emulated_isa_kernels runs it)")
    with SETTINGS_LOCK:
        before = nv.simd_level(), nv.bf16_level()
        nv.set_simd_level(simd)
        assert nv.set_bf16_level(level) == level
        yield level
        nv.set_simd_level(before[0])
        nv.set_bf16_level(before[1])


@pytest.fixture
def threads():
    before = nv.get_num_threads()
    yield nv.set_num_threads
    nv.set_num_threads(before)


# ------------------------------------------------------------------ rounding


def _all_tie_patterns() -> np.ndarray:
    """Every upper half with the lower halves around the rounding points (0, 1, just
    below, at and just above half, all ones): every exponent, sign, NaN and tie."""
    high = np.arange(1 << 16, dtype=np.uint32)[:, None] << 16
    low = np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=np.uint32)
    return (high | low).ravel().view(np.float32)


def test_rounding_matches_its_twin_bit_for_bit():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 1 << 32, 1 << 18, np.uint32).view(np.float32)
    x = np.concatenate([_all_tie_patterns(), noise])
    bits = nv.bf16_bits(x)
    assert np.array_equal(bits, reference.bf16_bits(x))
    assert np.array_equal(nv.round_bf16(x).view(np.uint32), reference.round_bf16(x).view(np.uint32))
    assert np.array_equal(
        nv.bf16_to_float32(bits).view(np.uint32), reference.bf16_to_float32(bits).view(np.uint32)
    )


@pytest.mark.parametrize(
    ("value", "bits"),
    [
        (0x3F800000, 0x3F80),  # 1.0
        (0x3F808000, 0x3F80),  # halfway, even below: down
        (0x3F818000, 0x3F82),  # halfway, odd below: up
        (0x3F808001, 0x3F81),  # above halfway: up
        (0x3F807FFF, 0x3F80),  # below halfway: down
        (0x7F7FFFFF, 0x7F80),  # the largest float rounds to infinity
        (0xFF800000, 0xFF80),  # -inf stays
        (0x7FC00001, 0x7FC0),  # a quiet NaN stays a NaN
        (0x7F800001, 0x7FC0),  # a signalling NaN (payload in the low half) becomes quiet
        (0xFF812345, 0xFFC1),  # payload truncated, quiet bit set
        (0x00000001, 0x0000),  # subnormals: zeros of their sign
        (0x807FFFFF, 0x8000),
        (0x00800000, 0x0080),  # the smallest normal stays
        (0x80000000, 0x8000),  # -0
    ],
)
def test_rounding_of_special_values(value, bits):
    x = np.array([value], dtype=np.uint32).view(np.float32)
    assert int(reference.bf16_bits(x)[0]) == bits
    assert int(nv.bf16_bits(x)[0]) == bits


def test_rounding_keeps_shape_and_checks_its_input():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # not contiguous
    assert np.array_equal(nv.round_bf16(x), reference.round_bf16(x))
    assert nv.bf16_bits(x).shape == (3, 2)
    with pytest.raises(TypeError, match="float32"):
        nv.round_bf16(np.zeros(3))
    with pytest.raises(TypeError, match="uint16"):
        nv.bf16_to_float32(np.zeros(3, np.int32))


# ------------------------------------------------------------------ products


def _layout(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "C":
        return np.ascontiguousarray(x)
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "strided":
        big = np.zeros((2 * x.shape[0] + 1, 3 * x.shape[1] + 2), x.dtype)
        big[1::2, 2::3] = x
        return big[1::2, 2::3]
    return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]  # negative strides


def _stored(op: np.ndarray, trans: bool, kind: str) -> np.ndarray:
    return _layout(op.T, kind) if trans else _layout(op, kind)


def _expected(a, b, alpha=1.0, beta=0.0, c0=None, bias=None):
    """alpha * round(a) @ round(b) + beta c0 + bias summed in double, and the float
    summation bound around it."""
    ra = reference.round_bf16(a).astype(np.float64)
    rb = reference.round_bf16(b).astype(np.float64)
    want, scale = alpha * (ra @ rb), abs(alpha) * (np.abs(ra) @ np.abs(rb))
    if beta != 0:
        want, scale = want + beta * c0, scale + abs(beta) * np.abs(c0)
    if bias is not None:
        want, scale = want + bias, scale + np.abs(bias)
    return want, 2.0 * (a.shape[1] + 4) * 2.0**-24 * scale + 1e-30


def _check(got, a, b, **terms):
    """got within the float summation bound of _expected; returns (expected, bound)."""
    want, bound = _expected(a, b, **terms)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.all(np.abs(got - want) <= bound), f"error {np.max(np.abs(got - want) - bound)}"
    return want, bound


SHAPES = [
    (1, 1, 1),
    (3, 17, 1000),
    (1000, 3, 17),
    (17, 1000, 3),
    (1, 256, 784),  # batch-1 forward of a 784-256 layer
    (128, 10, 128),  # an output layer
    (16, 32, 32),  # one AMX block of rows, one k step
    (33, 65, 129),  # one past the AMX and AVX512-BF16 blocks
    (97, 89, 1031),  # several K blocks at every level
]


@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
@pytest.mark.parametrize(("trans_a", "trans_b"), [(False, False), (False, True), (True, False)])
def test_products_match_the_rounded_reference(bf16_level, m, n, k, trans_a, trans_b):
    rng = np.random.default_rng(m * 7 + n * 3 + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    kinds = ("C", "F") if trans_b else ("strided", "reversed")
    got = nv.gemm(
        _stored(a, trans_a, kinds[0]),
        _stored(b, trans_b, kinds[1]),
        trans_a=trans_a,
        trans_b=trans_b,
        precision="bf16",
    )
    _check(got, a, b)
    twin = reference.gemm(a, b, precision="bf16")
    _check(twin, a, b)


@pytest.mark.parametrize(("m", "n", "k"), [(37, 45, 70), (1, 300, 513), (130, 7, 1000)])
def test_integer_products_are_exact_at_every_level(bf16_level, m, n, k):
    """Small integers are exact in bf16 and their sums exact in float: every level, in
    whatever order it sums, must give exactly the reference's bits."""
    rng = np.random.default_rng(k)
    a = rng.integers(-4, 5, (m, k)).astype(np.float32)
    b = rng.integers(-4, 5, (k, n)).astype(np.float32)
    exact = (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32)
    assert np.array_equal(nv.gemm(a, b, precision="bf16"), exact)
    assert np.array_equal(reference.gemm(a, b, precision="bf16"), exact)


def test_operands_are_rounded(bf16_level):
    """1 + 2^-9 is not a bf16 (its spacing at 1 is 2^-7): it rounds to 1 in both operands."""
    x = np.full((20, 40), 1 + 2.0**-9, np.float32)
    assert np.array_equal(nv.gemm(x, x.T, precision="bf16"), np.full((20, 20), 40, np.float32))
    assert not np.array_equal(nv.gemm(x, x.T), np.full((20, 20), 40, np.float32))


@pytest.mark.parametrize("epilogue", ["alpha-beta", "bias-relu", "relu-grad", "sigmoid"])
def test_epilogues_stay_in_float32(bf16_level, epilogue):
    rng = np.random.default_rng(3)
    m, n, k = 45, 70, 133
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    if epilogue == "alpha-beta":
        out = c0.copy()
        nv.gemm(a, b, alpha=-0.5, beta=1.5, out=out, precision="bf16")
        _check(out, a, b, alpha=-0.5, beta=1.5, c0=c0.astype(np.float64))
    elif epilogue in ("bias-relu", "sigmoid"):
        z = np.empty((m, n), np.float32)
        act = "relu" if epilogue == "bias-relu" else "sigmoid"
        out = nv.gemm(a, b, bias=bias, z=z, act=act, precision="bf16")
        pre, bound = _check(z, a, b, bias=bias.astype(np.float64))
        want = np.maximum(pre, 0) if act == "relu" else 1 / (1 + np.exp(-pre))
        assert np.all(np.abs(out - want) <= bound + (1e-6 if act == "sigmoid" else 0))
    else:
        aux = rng.standard_normal((m, n)).astype(np.float32)
        out = nv.gemm(a, b, aux=aux, act="relu", precision="bf16")
        pre, bound = _expected(a, b)
        assert np.all(out[aux <= 0] == 0)
        assert np.all(np.abs(out - np.where(aux > 0, pre, 0)) <= bound)


@pytest.mark.parametrize(("m", "n", "k"), [(300, 257, 299), (64, 1000, 64), (1000, 40, 77)])
def test_results_do_not_depend_on_the_thread_count(bf16_level, threads, m, n, k):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    threads(1)
    one = nv.gemm(a, b, precision="bf16")
    threads(2)
    assert np.array_equal(nv.gemm(a, b, precision="bf16"), one)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    m=st.integers(0, 80),
    n=st.integers(0, 80),
    k=st.integers(0, 80),
    kinds=st.tuples(*[st.sampled_from(["C", "F", "strided", "reversed"])] * 2),
)
def test_any_shape_and_layout(bf16_level, m, n, k, kinds):
    rng = np.random.default_rng(m + 100 * n + 10000 * k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    got = nv.gemm(_layout(a, kinds[0]), _layout(b, kinds[1]), precision="bf16")
    if m and n:
        _check(got, a, b)
    assert got.shape == (m, n)


def test_bad_precision_arguments():
    x32, x64 = np.ones((2, 2), np.float32), np.ones((2, 2))
    with pytest.raises(TypeError, match="precision='bf16' multiplies float32"):
        nv.gemm(x64, x64, precision="bf16")
    with pytest.raises(TypeError, match="precision='bf16' multiplies float32"):
        reference.gemm(x64, x64, precision="bf16")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        nv.gemm(x32, x32, precision="fp8")
    with pytest.raises(ValueError, match="unknown bf16 level 'avx9'"):
        nv.set_bf16_level("avx9")


# ------------------------------------------------------------------ levels


def _levels_in_subprocess(**env) -> str:
    code = "import fastnn.backends._native as n; print(n.bf16_level(), n.bf16_detected())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_environment_forces_a_lower_level():
    detected = nv.bf16_detected()
    assert _levels_in_subprocess(FASTNN_BF16="portable") == ["portable", detected]
    # a level above the CPU's is clamped to it; a SIMD level below AVX-512 means no bf16 ISA
    assert _levels_in_subprocess(FASTNN_BF16="AMX") == [detected, detected]
    assert _levels_in_subprocess(FASTNN_SIMD="avx2")[0] == "portable"


def test_levels_are_named_and_clamped():
    with SETTINGS_LOCK:
        before = nv.bf16_level()
        assert nv.set_bf16_level("amx") == nv.bf16_detected() or nv.simd_level() != "avx512"
        assert nv.set_bf16_level(0) == "portable"
        nv.set_bf16_level(before)


# ------------------------------------------------------------------ the ISA kernels, emulated


@needs_c_toolchain
@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="x86-64 build flags")
def test_emulated_isa_kernels(tmp_path):
    """csrc/tests/test_bf16_emulated.c: the AVX512-BF16 and AMX kernels' own source on
    plain-C intrinsics (bf16_emulate.h), through the real driver and packing (~20 s to
    build at -O1)."""
    exe = build("test_bf16_emulated", tmp_path, opt="-O1")
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok:" in result.stdout
