"""pytest-benchmark suite of the GEMM: each orientation on the MLP shapes and 1024³,
fastnn next to NumPy, 1 and 2 threads.

    python -m pytest bench/bench_gemm.py --benchmark-only --benchmark-group-by=group

Each benchmark's group is one product (shape, orientation, dtype, threads), so the
table shows fastnn and NumPy side by side; extra_info holds the GFLOP/s of the mean.
NumPy runs at its best: bench/conftest.py removes the OpenBLAS pinning and the header
names the kernel OpenBLAS chose.
"""

from __future__ import annotations

import numpy as np
import pytest

nv = pytest.importorskip("fastnn.backends._native")
threadpoolctl = pytest.importorskip("threadpoolctl")

# The forward product of each layer shape as C (m x n) = X (m x k) W (k x n); the
# orientations are its backprop siblings, stored as a network stores them.
SHAPES = {
    "1024^3": (1024, 1024, 1024),
    "784-256,batch128": (128, 256, 784),
    "256-128,batch128": (128, 128, 256),
    "128-10,batch128": (128, 10, 128),
    "784-256,batch1": (1, 256, 784),
    "2048-2048,batch512": (512, 2048, 2048),
}
# NN: Z = X W;  NT: dX = dZ W^T (m x n times (k x n)^T);  TN: dW = X^T dZ.
ORIENTATIONS = ("NN", "NT", "TN")


def product(name: str, orientation: str, dtype):
    """(a, b, trans_a, trans_b, flops) for one benchmark, as the network would call it."""
    m, n, k = SHAPES[name]
    rng = np.random.default_rng(0)
    if orientation == "NN":  # X (m x k) W (k x n)
        a, b, ta, tb, dims = (m, k), (k, n), False, False, (m, n, k)
    elif orientation == "NT":  # dZ (m x n) W^T, W stored (k x n): C is m x k
        a, b, ta, tb, dims = (m, n), (k, n), False, True, (m, k, n)
    else:  # X^T (k x m stored m x k) dZ (m x n): C is k x n
        a, b, ta, tb, dims = (m, k), (m, n), True, False, (k, n, m)
    x = rng.standard_normal(a).astype(dtype)
    y = rng.standard_normal(b).astype(dtype)
    return x, y, ta, tb, 2.0 * dims[0] * dims[1] * dims[2]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("library", ["fastnn", "numpy"])
def test_gemm(benchmark, library, shape, orientation, dtype, threads):
    a, b, ta, tb, flops = product(shape, orientation, np.dtype(dtype))
    op_a, op_b = (a.T if ta else a), (b.T if tb else b)
    out = np.empty((op_a.shape[0], op_b.shape[1]), a.dtype)
    benchmark.group = f"{shape} {orientation} {dtype} {threads} thread(s)"
    before = nv.get_num_threads()
    nv.set_num_threads(threads)
    try:
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            if library == "fastnn":
                benchmark(nv.gemm, a, b, trans_a=ta, trans_b=tb, out=out)
            else:
                benchmark(np.matmul, op_a, op_b, out=out)
    finally:
        nv.set_num_threads(before)
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = round(flops / benchmark.stats.stats.mean / 1e9, 1)
    assert np.allclose(out, op_a @ op_b, rtol=1e-3, atol=1e-3 * np.sqrt(op_a.shape[1]))
