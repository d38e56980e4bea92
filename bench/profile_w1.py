"""Where a W1 training step of fastnn native goes (784-256-128-10, batch 128).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/profile_w1.py [--threads 1]

Times each part of one step by itself, as the training loop calls it, and every GEMM of
the step through fastnn's GEMM binding (with the epilogue the network uses), next to
NumPy's product of the same shape; then compares their sum with a real epoch of
``Model.fit``: what is left is Python around the calls. Times are the minimum over many
calls (what a call costs undisturbed: this machine is shared), per batch and per epoch
of Fashion-MNIST's 60,000 rows (469 batches). Run it under a sampling profiler to see
inside the calls:

    perf record -F 4999 -g -o w1.data python bench/profile_w1.py --epochs 8
    perf report -i w1.data --no-children --sort symbol
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastnn as fn
from fastnn.benchmark import data as bench_data

SIZES, BATCH, ROWS = (784, 256, 128, 10), 128, 60_000
BATCHES = -(-ROWS // BATCH)


def best_of(call, seconds: float = 0.3, block: float = 2e-4) -> float:
    """Minimum seconds per call over many short blocks of calls (a block shorter than a
    scheduler time slice is often not interrupted: the minimum is the undisturbed cost).
    It starts with a pause: the previous call's library may still have threads spinning."""
    time.sleep(0.1)
    call()
    started = time.perf_counter()
    call()
    n = max(1, int(block / (time.perf_counter() - started)))
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def build(backend: str, optimizer: str) -> fn.Model:
    layers = [fn.Dense(n, "relu") for n in SIZES[1:-1]] + [fn.Dense(SIZES[-1], "softmax")]
    model = fn.Model(layers, input_dim=SIZES[0], seed=0, backend=backend)
    rule = fn.optimizers.SGD(0.01, momentum=0.9) if optimizer == "sgd" else fn.optimizers.Adam()
    model.compile(loss="cross_entropy", optimizer=rule)
    return model


def step_parts(model: fn.Model, X, y) -> list[tuple[str, float]]:
    """(part, seconds per batch) of a training step, each call timed alone."""
    backend, net, params = model.backend_impl(), model.net(), model.params
    ws, grads = backend.workspace(net, BATCH), np.zeros_like(params)
    segments, spec, optimizer = net.segments(), model.loss.spec, model.optimizer
    optimizer.build(params.size, params.dtype)
    xbuf, ybuf = np.empty((BATCH, X.shape[1]), X.dtype), np.empty(BATCH, y.dtype)
    rows = np.random.default_rng(0).permutation(X.shape[0])[:BATCH]
    xb = np.take(X, rows, axis=0, out=xbuf)
    yb = np.take(y, rows, out=ybuf)

    def gather():
        np.take(X, rows, axis=0, out=xbuf)
        np.take(y, rows, out=ybuf)

    def forward():
        backend.forward(net, params, xb, ws, True, 0, 0)

    def loss():
        backend.loss_grad(net, spec, params, ws, yb)

    def backward():
        backend.backward(net, params, grads, ws, xb)

    rule = optimizer.step_spec()

    def step():
        backend.step(rule, params, grads, optimizer.states, segments, 1e-3, 1)

    forward(), loss(), backward()
    parts = [gather, forward, loss, backward, step]
    return [(part.__name__, best_of(part)) for part in parts]


def gemm_products(model: fn.Model, X) -> list[tuple[str, str, int, float, float]]:
    """(name, shape, flops, fastnn seconds, NumPy seconds) of each GEMM of a W1 step, on
    operands of the step's shapes, with the epilogue the network fuses in."""
    gemm = importlib.import_module("fastnn.backends._native").gemm
    weights = model.get_weights()
    W, b = weights[::2], weights[1::2]
    acts = [np.ascontiguousarray(X[:BATCH])]
    for w, bias in zip(W, b):
        acts.append(np.maximum(acts[-1] @ w + bias, 0))
    rng = np.random.default_rng(0)
    dz = [rng.standard_normal(a.shape).astype(np.float32) for a in acts[1:]]
    rows = []

    def add(name, m, k, n, orientation, ours, theirs):
        shape = f"{m}×{k}·{k}×{n} {orientation}"
        rows.append((name, shape, 2 * m * n * k, best_of(ours), best_of(theirs)))

    for i, w in enumerate(W):  # forward: A_i = act(A_{i-1} W_i + b_i)
        n_in, n_out = w.shape
        out = np.empty((BATCH, n_out), np.float32)
        act = "relu" if i < len(W) - 1 else "linear"  # softmax is a row pass after the GEMM
        ours = partial(gemm, acts[i], w, out=out, bias=b[i], act=act)
        add(f"forward L{i + 1}: X W + b, act", BATCH, n_in, n_out, "NN", ours,
            partial(np.matmul, acts[i], w, out=out))  # fmt: skip
    for i in range(len(W) - 1, -1, -1):  # backward, top layer first
        n_in, n_out = W[i].shape
        grad = np.empty_like(W[i])
        ours = partial(gemm, acts[i], dz[i], trans_a=True, out=grad)
        add(f"dW{i + 1} = Xᵀ dZ", n_in, BATCH, n_out, "TN", ours,
            partial(np.matmul, acts[i].T, dz[i], out=grad))  # fmt: skip
        if i > 0:  # no dX for the input
            dx = np.empty((BATCH, n_in), np.float32)
            ours = partial(gemm, dz[i], W[i], trans_b=True, out=dx, act="relu", aux=acts[i])
            add(f"dX{i + 1} = dZ Wᵀ · relu'", BATCH, n_out, n_in, "NT", ours,
                partial(np.matmul, dz[i], W[i].T, out=dx))  # fmt: skip
    return rows


def fit_epoch(model: fn.Model, X, y) -> float:
    started = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--epochs", type=int, default=3, help="fit epochs (the best is kept)")
    args = parser.parse_args()
    if args.threads:
        fn.set_num_threads(args.threads)
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    data = bench_data.load("auto")
    X, y = data.X_train, data.y_train
    model = build("native", args.optimizer)
    fit_epoch(model, X, y)  # warm-up
    fit = min(fit_epoch(model, X, y) for _ in range(args.epochs))
    parts = step_parts(model, X, y)
    print(f"{data.source}: W1 {args.optimizer}, {BATCHES} batches of {BATCH}, "
          f"{fn.get_num_threads()} thread(s); best fit epoch {fit:.3f} s\n")  # fmt: skip
    python = fit / BATCHES - sum(seconds for _, seconds in parts)
    table(
        ["part of a step", "µs/batch", "ms/epoch", "share of the fit epoch"],
        [
            [name, f"{s * 1e6:.1f}", f"{s * BATCHES * 1e3:.1f}", f"{s * BATCHES / fit:.0%}"]
            for name, s in [*parts, ("Python in fit around the calls", python)]
        ],
    )
    products = gemm_products(model, X)
    total = sum(ours for *_, ours, _ in products)
    table(
        ["GEMM", "shape", "fastnn µs", "GFLOP/s", "NumPy µs", "fastnn / NumPy", "ms/epoch"],
        [
            [name, shape, f"{ours * 1e6:.1f}", f"{flops / ours / 1e9:.0f}",
             f"{theirs * 1e6:.1f}", f"{ours / theirs:.2f}", f"{ours * BATCHES * 1e3:.1f}"]
            for name, shape, flops, ours, theirs in products
        ]
        + [["all GEMMs of a step", "", f"{total * 1e6:.1f}", "", "", "",
            f"{total * BATCHES * 1e3:.1f}"]],
    )  # fmt: skip


def table(header: list[str], rows: list[list[str]]) -> None:
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
