"""One Fashion-MNIST-shaped training epoch and batch-1 predict: native vs NumPy reference.

    python bench/train_epoch.py [--threads 1 2] [--epochs 3]

784-256-128-10 (ReLU, ReLU, softmax), cross-entropy, Adam, batch 128, 60000 random rows
of 784 float32 features: exactly the four backend calls per batch that Model.fit makes
(forward, loss_grad, backward, step) on contiguous batches, so the figures are the
backends' own cost. Both run in this process; NumPy's OpenBLAS at its best
(OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed before NumPy loads, as in gemm_gflops.py).
Each figure is the best of --epochs epochs (predict: the best of 5 blocks of calls),
which is robust to other load on the machine; a pause separates the libraries so that
neither one's spinning worker threads steal the other's cores.
"""

from __future__ import annotations

import os
import sys

_PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _PINNING):
    env = {k: v for k, v in os.environ.items() if k not in _PINNING}
    if "numpy" in sys.modules:
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    for name in _PINNING:
        del os.environ[name]

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from fastnn.backends import native  # noqa: E402
from fastnn.backends.reference import ReferenceBackend  # noqa: E402
from fastnn.backends.spec import (  # noqa: E402
    Act,
    LayerKind,
    LayerSpec,
    Loss,
    LossSpec,
    NetSpec,
    Opt,
    StepSpec,
)

SIZES = (784, 256, 128, 10)
ACTS = (Act.RELU, Act.RELU, Act.SOFTMAX)


def network(dtype=np.float32):
    layers, offset = [], 0
    for n_in, n_out, act in zip(SIZES, SIZES[1:], ACTS):
        layers.append(
            LayerSpec(
                LayerKind.DENSE, n_in, n_out, act, w_offset=offset, b_offset=offset + n_in * n_out
            )
        )
        offset += n_in * n_out + n_out
    net = NetSpec(tuple(layers), offset, np.dtype(dtype))
    rng = np.random.default_rng(0)
    params = np.zeros(offset, dtype)
    for layer in layers:  # glorot_uniform, zero bias
        limit = np.sqrt(6 / (layer.n_in + layer.n_out))
        size = layer.n_in * layer.n_out
        params[layer.w_offset : layer.w_offset + size] = rng.uniform(-limit, limit, size)
    return net, params


def epoch(backend, net, params, x, y, batch=128):
    ws = backend.workspace(net, batch)
    grads = np.zeros_like(params)
    states = [np.zeros_like(params), np.zeros_like(params)]
    spec, loss, segments = StepSpec(Opt.ADAM), LossSpec(Loss.CROSS_ENTROPY), net.segments()
    start = time.perf_counter()
    for t, first in enumerate(range(0, len(x), batch), 1):
        xb, yb = x[first : first + batch], y[first : first + batch]
        backend.forward(net, params, xb, ws, True, 0, t)
        backend.loss_grad(net, loss, params, ws, yb)
        backend.backward(net, params, grads, ws, xb)
        backend.step(spec, params, grads, states, segments, 1e-3, t)
    return time.perf_counter() - start


def predict_us(backend, net, params, x, calls=20000):
    for _ in range(1000):
        backend.predict(net, params, x)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls // 5):
            backend.predict(net, params, x)
        times.append((time.perf_counter() - start) / (calls // 5) * 1e6)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits

    blas = [
        f"{i['internal_api']} {i.get('architecture')}"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ]
    print(f"native: {native.info()}; NumPy BLAS: {', '.join(blas)}")
    rng = np.random.default_rng(1)
    x = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=60000).astype(np.int64)
    net, params = network()
    one = x[:1].copy()
    print("| backend | threads | epoch (s) | samples/s | predict batch 1 (µs) |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        native.set_num_threads(threads)
        seconds = min(
            epoch(native.NativeBackend(), net, params.copy(), x, y) for _ in range(args.epochs)
        )
        micro = predict_us(native.NativeBackend(), net, params, one)
        print(f"| native | {threads} | {seconds:.3f} | {60000 / seconds:,.0f} | {micro:.2f} |")
        time.sleep(1.0)
        with threadpool_limits(threads, user_api="blas"):
            seconds = min(
                epoch(ReferenceBackend(), net, params.copy(), x, y) for _ in range(args.epochs)
            )
            micro = predict_us(ReferenceBackend(), net, params, one, calls=5000)
        print(f"| numpy | {threads} | {seconds:.3f} | {60000 / seconds:,.0f} | {micro:.2f} |")
        time.sleep(1.0)


if __name__ == "__main__":
    main()
