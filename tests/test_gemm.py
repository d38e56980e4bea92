"""The native GEMM against NumPy: every orientation, layout, shape, epilogue and SIMD level.

Tolerances (SPEC §4): float64 1e-10 and float32 1e-4, relative to the magnitude of the
terms summed, alpha*|A||B| + |beta*C| (+ |bias|), so that cancellation does not fail a
correct result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn.backends import reference
from fastnn.backends.spec import Act

nv = pytest.importorskip("fastnn.backends._native")

LEVELS = nv.SIMD_LEVELS[: nv.SIMD_LEVELS.index(nv.simd_detected()) + 1]
TOL = {np.float32: 1e-4, np.float64: 1e-10}
ROOT = Path(__file__).resolve().parents[1]
ACTIVATIONS_LINKED = any((ROOT / "csrc").glob("activations*.c"))
# Serialises tests that change process-wide settings (level, threads).
SETTINGS_LOCK = threading.Lock()


@pytest.fixture(params=LEVELS)
def level(request):
    """Run the test at each SIMD level the CPU has, restoring the level afterwards."""
    with SETTINGS_LOCK:
        before = nv.simd_level()
        assert nv.set_simd_level(request.param) == request.param
        yield request.param
        nv.set_simd_level(before)


@pytest.fixture
def threads():
    """Set the kernels' thread count inside a test; restored afterwards."""
    before = nv.get_num_threads()
    yield nv.set_num_threads
    nv.set_num_threads(before)


def layout(x: np.ndarray, kind: str) -> np.ndarray:
    """The same matrix as x, stored as `kind`: C or Fortran order, a strided view of a
    bigger array, or reversed rows/columns (negative strides)."""
    if kind == "C":
        return np.ascontiguousarray(x)
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "strided":
        big = np.zeros((2 * x.shape[0] + 1, 3 * x.shape[1] + 2), x.dtype)
        view = big[1::2, 2::3]
        view[...] = x
        return view
    if kind == "reversed":
        return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]
    raise ValueError(kind)


def stored(op: np.ndarray, trans: bool, kind: str) -> np.ndarray:
    """The array to pass so that op(array) == op (stored transposed when trans)."""
    return layout(op.T, kind) if trans else layout(op, kind)


def check(got, a, b, dtype, alpha=1.0, beta=0.0, c0=None, bias=None, want=None):
    """got ~= alpha*a@b + beta*c0 (+ bias), or ~= want when given, at the dtype's tolerance."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64)) + 1e-30
    if want is None:
        want = alpha * (a64 @ b64)
        if beta != 0:
            want = want + beta * c0.astype(np.float64)
        if bias is not None:
            want = want + bias
    if beta != 0:
        scale = scale + abs(beta) * np.abs(c0.astype(np.float64))
    if bias is not None:
        scale = scale + np.abs(bias)
    err = np.abs(got.astype(np.float64) - want) / scale
    assert got.dtype == dtype
    assert got.shape == want.shape
    assert np.all(np.isfinite(got))
    assert err.max(initial=0.0) <= TOL[dtype], f"relative error {err.max()}"


def random(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ orientations


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("trans_a", "trans_b"), [(False, False), (False, True), (True, False), (True, True)]
)
@pytest.mark.parametrize(
    ("m", "n", "k"),
    [
        (128, 256, 784),
        (128, 784, 256),
        (784, 256, 128),
        (128, 10, 128),
        (1, 256, 784),
        (1, 1000, 70),  # a wide GEMV: B in chunks of rows across all columns
        (1, 517, 9),
        (16, 128, 256),
        (97, 89, 131),
        (300, 257, 299),
        (200, 288, 150),  # N a multiple of the wide packed tile (48 floats, 24 doubles)
    ],
)
def test_orientations_match_numpy(level, m, n, k, trans_a, trans_b, dtype):
    rng = np.random.default_rng(m * 7 + n * 3 + k)
    a, b = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    got = nv.gemm(
        stored(a, trans_a, "C"), stored(b, trans_b, "C"), trans_a=trans_a, trans_b=trans_b
    )
    check(got, a, b, dtype)
    assert np.allclose(got, reference.gemm(a, b), rtol=0, atol=TOL[dtype] * np.sqrt(k) * 10)


@given(
    m=st.integers(0, 300),
    n=st.integers(0, 300),
    k=st.integers(0, 300),
    trans=st.tuples(st.booleans(), st.booleans()),
    kinds=st.tuples(*[st.sampled_from(["C", "F", "strided", "reversed"])] * 2),
    alpha=st.sampled_from([1.0, -0.5, 2.0]),
    beta=st.sampled_from([0.0, 1.0, -1.5]),
    dtype=st.sampled_from([np.float32, np.float64]),
    level=st.sampled_from(LEVELS),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_shape_layout_alpha_beta(m, n, k, trans, kinds, alpha, beta, dtype, level, seed):
    rng = np.random.default_rng(seed)
    a, b = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    c0 = random(rng, (m, n), dtype)
    out = c0.copy() if beta != 0 else np.full((m, n), np.nan, dtype)  # beta 0: never read
    with SETTINGS_LOCK:
        before = nv.simd_level()
        nv.set_simd_level(level)
        try:
            got = nv.gemm(
                stored(a, trans[0], kinds[0]),
                stored(b, trans[1], kinds[1]),
                trans_a=trans[0],
                trans_b=trans[1],
                alpha=alpha,
                beta=beta,
                out=out,
            )
        finally:
            nv.set_simd_level(before)
    assert got is out
    check(got, a, b, dtype, alpha, beta, c0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13, 17, 31, 61, 127, 251])
def test_prime_and_tiny_sizes(level, size, dtype):
    rng = np.random.default_rng(size)
    for m, n, k in [(size, size, size), (1, size, 3 * size), (size, 1, size), (size, 7, 1)]:
        a, b = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
        check(nv.gemm(a, b), a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("m", "n"), [(0, 5), (5, 0), (0, 0), (3, 4)])
def test_k_zero_scales_c_only(level, m, n, dtype):
    a, b = np.zeros((m, 0), dtype), np.zeros((0, n), dtype)
    c0 = np.arange(m * n, dtype=dtype).reshape(m, n)
    assert np.array_equal(nv.gemm(a, b, beta=0.0, out=c0.copy()), np.zeros((m, n)))
    assert np.array_equal(nv.gemm(a, b, beta=2.0, out=c0.copy()), 2 * c0)
    bias = np.arange(n, dtype=dtype) - 1
    got = nv.gemm(a, b, beta=1.0, out=c0.copy(), bias=bias, act="relu")
    assert np.array_equal(got, np.maximum(c0 + bias, 0))


def test_alpha_zero_does_not_read_a_or_b():
    a = np.full((4, 3), np.nan)
    c0 = np.ones((4, 5))
    assert np.array_equal(
        nv.gemm(a, np.ones((3, 5)), alpha=0.0, beta=3.0, out=c0), 3 * np.ones((4, 5))
    )


# ------------------------------------------------------------------ epilogues


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["linear", "relu"])
@pytest.mark.parametrize(
    ("m", "n", "k"),
    [(1, 256, 784), (1, 600, 130), (128, 256, 784), (33, 10, 65), (5, 3, 900)],
)
def test_forward_epilogue(level, m, n, k, act, dtype):
    rng = np.random.default_rng(k)
    x, w = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    bias = random(rng, (n,), dtype)
    z = np.empty((m, n), dtype)
    got = nv.gemm(x, w, bias=bias, act=act, z=z)
    want_z, want_a = reference.dense_forward(
        x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), Act[act.upper()]
    )
    check(z, x, w, dtype, bias=bias, want=want_z)
    check(got, x, w, dtype, bias=bias, want=want_a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["linear", "relu"])
@pytest.mark.parametrize(("m", "n", "k"), [(128, 784, 256), (1, 128, 10), (64, 37, 500)])
def test_act_grad_epilogue_on_backprop_product(level, m, n, k, act, dtype):
    """dX = (dY W^T) * act'(A), the derivative taken from the activation output A."""
    rng = np.random.default_rng(n)
    dy, w = random(rng, (m, k), dtype), random(rng, (n, k), dtype)
    a_out = np.maximum(random(rng, (m, n), dtype), 0)  # about half exactly zero
    got = nv.gemm(dy, w, trans_b=True, aux=a_out, act=act)
    prod = dy.astype(np.float64) @ w.T.astype(np.float64)
    want = reference.act_grad(Act[act.upper()], a_out.astype(np.float64), None, prod)
    check(got, dy, w.T, dtype, want=want)


@pytest.mark.skipif(
    not ACTIVATIONS_LINKED,
    reason="fnn_act_forward_f32/f64 and fnn_act_grad_f32/f64 (csrc/activations*.c) are "
    "not in this tree yet",
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["leaky_relu", "sigmoid", "tanh", "elu", "gelu", "softplus"])
def test_epilogues_through_the_activation_kernels(level, act, dtype):
    rng = np.random.default_rng(3)
    code = Act[act.upper()]
    param = 0.1 if code in (Act.LEAKY_RELU, Act.ELU) else 0.0
    x, w, bias = (
        random(rng, (37, 50), dtype),
        random(rng, (50, 45), dtype),
        random(rng, (45,), dtype),
    )
    z = np.empty((37, 45), dtype)
    got = nv.gemm(x, w, bias=bias, act=act, act_param=param, z=z)
    _, want_a = reference.dense_forward(
        x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), code, param
    )
    assert np.allclose(got, want_a, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
    dy = random(rng, (37, 60), dtype)
    w2 = random(rng, (45, 60), dtype)
    aux = z if code == Act.GELU else got
    grad = nv.gemm(dy, w2, trans_b=True, aux=aux, act=act, act_param=param)
    prod = dy.astype(np.float64) @ w2.T.astype(np.float64)
    want = reference.act_grad(code, got.astype(np.float64), z.astype(np.float64), prod, param)
    assert np.allclose(grad, want, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 100)


# ------------------------------------------------------------------ threads


@pytest.mark.skipif(not nv.openmp_enabled(), reason="built without OpenMP")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("m", "n", "k", "trans_a", "trans_b"),
    [
        (256, 512, 784, False, False),  # forward X W, batch 256, 784-512 layer
        (256, 784, 512, False, True),  # dX = dY W^T
        (784, 512, 256, True, False),  # dW = X^T dY
        (1, 512, 784, False, False),  # batch 1
        (16, 10, 512, False, False),  # narrow output layer (N = 10)
        (128, 10, 128, True, False),  # its dW = X^T dZ (column kernels)
    ],
)
def test_bitwise_identical_for_any_thread_count(level, threads, m, n, k, trans_a, trans_b, dtype):
    rng = np.random.default_rng(0)
    a, b = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    bias = random(rng, (n,), dtype)
    args = (stored(a, trans_a, "C"), stored(b, trans_b, "C"))
    results = []
    for count in (1, 2, 3):
        threads(count)
        results.append(nv.gemm(*args, trans_a=trans_a, trans_b=trans_b, bias=bias, act="relu"))
    assert all(np.array_equal(results[0], r) for r in results[1:])


def test_concurrent_calls_from_python_threads():
    rng = np.random.default_rng(1)
    problems = [
        (random(rng, (m, 300), np.float32), random(rng, (300, n), np.float32))
        for m, n in [(1, 256), (64, 10), (128, 256), (200, 300)] * 4
    ]
    expected = [nv.gemm(a, b) for a, b in problems]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            got = list(pool.map(lambda ab: nv.gemm(*ab), problems))
            assert all(np.array_equal(g, e) for g, e in zip(got, expected))


# ------------------------------------------------------------------ arguments


def test_out_is_returned_and_may_be_a_row_slice():
    a, b = np.ones((4, 3)), np.ones((3, 5))
    big = np.zeros((4, 9))
    got = nv.gemm(a, b, out=big[:, 2:7])
    assert np.array_equal(big[:, 2:7], 3 * np.ones((4, 5)))
    assert not big[:, :2].any() and not big[:, 7:].any()
    assert got.base is big


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"a": np.ones((2, 3), np.float32)}, TypeError, "dtype"),
        ({"a": np.ones((2, 3), np.int64), "b": np.ones((3, 2), np.int64)}, TypeError, "float32"),
        ({"a": np.ones(3)}, ValueError, "2-D"),
        ({"b": np.ones((4, 2))}, ValueError, "inner dimensions"),
        ({"out": np.ones((2, 3))}, ValueError, "shape"),
        ({"out": np.ones((2, 2), np.float32)}, TypeError, "dtype"),
        ({"out": np.ones((2, 2), order="F")}, ValueError, "contiguous rows"),
        ({"beta": 1.0}, ValueError, "out"),
        ({"act": "swish"}, ValueError, "activation"),
        ({"act": "softmax"}, ValueError, "softmax"),
        ({"bias": np.ones(3)}, ValueError, "bias"),
        ({"bias": np.ones(2, np.float32)}, TypeError, "bias"),
        ({"mode": "act_grad"}, ValueError, "aux"),
        ({"mode": "sideways"}, ValueError, "mode"),
        ({"aux": np.ones((3, 3))}, ValueError, "aux"),
        ({"a": [[1.0]]}, TypeError, "ndarray"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, error, match):
    args = {"a": np.ones((2, 3)), "b": np.ones((3, 2)), **kwargs}
    with pytest.raises(error, match=match):
        nv.gemm(args.pop("a"), args.pop("b"), **args)


def test_out_overlapping_an_input_is_refused():
    a = np.ones((3, 3))
    with pytest.raises(ValueError, match="overlap"):
        nv.gemm(a, np.ones((3, 3)), out=a)


def test_read_only_out_is_refused():
    out = np.zeros((2, 2))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nv.gemm(np.ones((2, 3)), np.ones((3, 2)), out=out)


# ------------------------------------------------------------------ both paths

PATH_CHECK = """
import itertools
import numpy as np
from fastnn.backends import _native as nv
rng = np.random.default_rng(5)
shapes = [(128, 256, 784), (128, 784, 256), (784, 256, 128), (70, 33, 300), (300, 257, 99),
          (9, 40, 1000), (1, 300, 50), (65, 10, 129), (100, 288, 70), (80, 40, 2100)]
levels = nv.SIMD_LEVELS[: nv.SIMD_LEVELS.index(nv.simd_detected()) + 1]
worst = 0.0
for level, (m, n, k), ta, tb, dtype, threads in itertools.product(
        levels, shapes, (False, True), (False, True), (np.float32, np.float64), (1, 2)):
    nv.set_simd_level(level)
    nv.set_num_threads(threads)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype)
    got = nv.gemm(np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(b.T) if tb else b,
                  trans_a=ta, trans_b=tb, bias=bias, act="relu")
    want = np.maximum(a.astype(np.float64) @ b.astype(np.float64) + bias, 0)
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)) + np.abs(bias) + 1e-30
    tol = 1e-4 if dtype == np.float32 else 1e-10
    worst = max(worst, float((np.abs(got - want) / scale).max() / tol))
print(worst)
"""


@pytest.mark.parametrize("path", ["direct", "packed"])
def test_each_path_at_every_shape(path):
    """FASTNN_GEMM_PATH sends every call down one path: both must be right everywhere
    (the default choice only ever uses each where it is fastest)."""
    env = {**os.environ, "FASTNN_GEMM_PATH": path}
    result = subprocess.run(
        [sys.executable, "-c", PATH_CHECK], capture_output=True, text=True, env=env,
        timeout=600, check=True,
    )  # fmt: skip
    assert float(result.stdout) <= 1.0
