"""Where a W1 epoch of fastnn goes (784-256-128-10, batch 128, Fashion-MNIST).

    python bench/profile_w1.py [--backend native] [--threads 1] [--optimizer sgd] [--epochs 5]

prints, per epoch, the time of ``Model.fit`` and of the same batches driven through the
backend by hand with a clock around each call: gather (shuffled rows into the batch
buffer), forward, loss (softmax + cross-entropy + gradient), backward, optimizer step;
what is left of fit's epoch is Python around the calls. Run it under a sampling
profiler to see inside the calls, e.g.

    perf record -F 4999 -g -o w1.data python bench/profile_w1.py --epochs 8
    perf report -i w1.data --no-children --sort symbol
    py-spy record --native -o w1.svg -- python bench/profile_w1.py --epochs 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastnn as fn
from fastnn.benchmark import data as bench_data

PARTS = ("gather", "forward", "loss", "backward", "step")


def build(backend: str, optimizer: str) -> fn.Model:
    model = fn.Model(
        [fn.Dense(256, "relu"), fn.Dense(128, "relu"), fn.Dense(10, "softmax")],
        input_dim=784,
        seed=0,
        backend=backend,
    )
    rule = fn.optimizers.SGD(0.01, momentum=0.9) if optimizer == "sgd" else fn.optimizers.Adam()
    model.compile(loss="cross_entropy", optimizer=rule)
    return model


def fit_epoch(model: fn.Model, X, y, batch: int) -> float:
    started = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
    return time.perf_counter() - started


def clocked_epoch(model: fn.Model, X, y, batch: int) -> dict[str, float]:
    """fit's per-batch work, one backend call at a time, each under a clock."""
    backend, net = model.backend_impl(), model.net()
    ws = backend.workspace(net, batch)
    params, grads = model.params, np.zeros_like(model.params)
    segments, spec, optimizer = net.segments(), model.loss.spec, model.optimizer
    xbuf, ybuf = np.empty((batch, X.shape[1]), X.dtype), np.empty(batch, y.dtype)
    order = np.random.default_rng(0).permutation(X.shape[0])
    spent = dict.fromkeys(PARTS, 0.0)
    clock = time.perf_counter
    for start in range(0, X.shape[0], batch):
        t0 = clock()
        rows = order[start : start + batch]
        xb = np.take(X, rows, axis=0, out=xbuf[: rows.shape[0]])
        yb = np.take(y, rows, out=ybuf[: rows.shape[0]])
        t1 = clock()
        backend.forward(net, params, xb, ws, True, 0, 0)
        t2 = clock()
        backend.loss_grad(net, spec, params, ws, yb)
        t3 = clock()
        backend.backward(net, params, grads, ws, xb)
        t4 = clock()
        optimizer.apply(backend, params, grads, segments, 0)
        t5 = clock()
        for part, seconds in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            spent[part] += seconds
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="native", choices=["native", "numpy"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    if args.threads:
        fn.set_num_threads(args.threads)
    data = bench_data.load("auto")
    X, y = data.X_train, data.y_train
    model = build(args.backend, args.optimizer)
    fit_epoch(model, X, y, args.batch)  # warm-up
    fits, parts = [], {part: [] for part in PARTS}
    for _ in range(args.epochs):
        fits.append(fit_epoch(model, X, y, args.batch))
        for part, seconds in clocked_epoch(model, X, y, args.batch).items():
            parts[part].append(seconds)
    fit = statistics.median(fits)
    batches = -(-X.shape[0] // args.batch)
    print(f"{data.source}, {X.shape[0]:,} rows, {batches} batches of {args.batch}; backend "
          f"{args.backend}, {fn.get_num_threads()} thread(s), {args.optimizer}; "
          f"medians of {args.epochs} epochs")  # fmt: skip
    print(f"| part | ms/epoch | µs/batch | share of fit's epoch ({fit:.3f} s) |")
    print("|---|---|---|---|")
    rows = [(part, statistics.median(parts[part])) for part in PARTS]
    rows.append(("rest of fit (Python around the calls)", fit - sum(s for _, s in rows)))
    for part, seconds in rows:
        per_batch = seconds / batches * 1e6
        print(f"| {part} | {seconds * 1e3:.1f} | {per_batch:.1f} | {seconds / fit:.0%} |")


if __name__ == "__main__":
    main()
