"""GFLOP/s of fastnn's GEMM against NumPy's BLAS at its best, as a Markdown table.

    python bench/gemm_gflops.py [--threads 1 2] [--dtypes float32 float64] [--rounds 7]

NumPy at its best: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which can pin OpenBLAS to a
slower kernel) are removed from this process's environment before NumPy is loaded
(re-executing the script if something imported NumPy first), the kernel OpenBLAS chose
is reported (threadpoolctl), and its thread count is set with threadpoolctl. The two
libraries run in alternating blocks; a pause after each block lets the other's spinning
worker threads go idle. Each figure is the median over blocks of the block median.
"""

from __future__ import annotations

import os
import sys

_PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _PINNING):
    env = {k: v for k, v in os.environ.items() if k not in _PINNING}
    if "numpy" in sys.modules:  # too late to change what OpenBLAS reads: start afresh
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    for name in _PINNING:
        del os.environ[name]

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from fastnn.backends import _native as nv  # noqa: E402

# (label, m, n, k, trans_a, trans_b): C (m x n) = op(A) (m x k) op(B) (k x n)
SHAPES = [
    ("1024³", 1024, 1024, 1024, False, False),
    ("X·W 128×784·784×256", 128, 256, 784, False, False),
    ("dY·Wᵀ 128×256·256×784", 128, 784, 256, False, True),
    ("Xᵀ·dY 784×128·128×256", 784, 256, 128, True, False),
    ("X·W 512×784·784×2048", 512, 2048, 784, False, False),
    ("X·W 512×2048·2048×2048", 512, 2048, 2048, False, False),
    ("dY·Wᵀ 512×2048·2048×2048", 512, 2048, 2048, False, True),
    ("Xᵀ·dY 2048×512·512×2048", 2048, 2048, 512, True, False),
    ("X·W 256×784·784×256 (predict chunk)", 256, 256, 784, False, False),
    ("X·W 128×256·256×128", 128, 128, 256, False, False),
    ("dY·Wᵀ 128×128·128×256", 128, 256, 128, False, True),
    ("Xᵀ·dY 256×128·128×128", 256, 128, 128, True, False),
    ("X·W 128×128·128×10", 128, 10, 128, False, False),
    ("dY·Wᵀ 128×10·10×128", 128, 128, 10, False, True),
    ("Xᵀ·dY 128×128·128×10", 128, 10, 128, True, False),
    ("x·W batch 1, 1×784·784×256", 1, 256, 784, False, False),
]


def blas_info() -> str:
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return "unknown BLAS"
    i = infos[0]
    return f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}"


def operands(m, n, k, trans_a, trans_b, dtype, rng):
    """Arrays stored as a network holds them: op(A) = A.T when trans_a, etc."""
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def block_median(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(shape, dtype, threads: int, rounds: int, rng) -> tuple[float, float]:
    """Median seconds per call of (fastnn, numpy) for one shape."""
    _, m, n, k, ta, tb = shape
    a, b = operands(m, n, k, ta, tb, dtype, rng)
    out = np.empty((m, n), dtype)
    opa, opb = (a.T if ta else a), (b.T if tb else b)

    def ours():
        nv.gemm(a, b, trans_a=ta, trans_b=tb, out=out)

    def theirs():
        np.matmul(opa, opb, out=out)

    nv.set_num_threads(threads)
    pause = 0.3 if threads > 1 else 0.02  # let the other library's workers stop spinning
    with threadpool_limits(limits=threads, user_api="blas"):
        ours(), theirs()  # warm up: page in, pack buffers, thread pools
        t_once = max(block_median(ours, 3), block_median(theirs, 3))
        reps = int(min(max(0.04 / t_once, 3), 300))
        results: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            for fn, store in ((ours, results[0]), (theirs, results[1])):
                time.sleep(pause)
                store.append(block_median(fn, reps))
    return statistics.median(results[0]), statistics.median(results[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--shapes", nargs="+", type=int, help="indices into SHAPES")
    args = parser.parse_args()
    shapes = [SHAPES[i] for i in args.shapes] if args.shapes else SHAPES
    rng = np.random.default_rng(0)

    print(
        f"NumPy {np.__version__} with {blas_info()}; fastnn SIMD level {nv.simd_level()}, "
        f"OpenMP {'on' if nv.openmp_enabled() else 'off'}\n"
    )
    print("| product | dtype | threads | fastnn GFLOP/s | NumPy GFLOP/s | fastnn / NumPy |")
    print("|---|---|---:|---:|---:|---:|")
    for shape in shapes:
        label, m, n, k = shape[:4]
        for dtype in args.dtypes:
            for threads in args.threads:
                ours, theirs = measure(shape, np.dtype(dtype), threads, args.rounds, rng)
                flops = 2.0 * m * n * k
                print(
                    f"| {label} | {dtype} | {threads} | {flops / ours / 1e9:.1f} | "
                    f"{flops / theirs / 1e9:.1f} | {theirs / ours:.2f}× |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
