"""A W1 training step as fit runs it (one training session's train_step call) against
the four calls it replaced, part by part.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/profile_step.py [--threads 1]

Every timed call takes the next batch of a shuffled epoch (so gathered rows come from
memory as in training, not from cache); times are the minimum over blocks of calls
(bench/profile_w1.py's best_of: what a call costs undisturbed on a shared machine), the
parts taking turns. Last, fit's own Python per batch: epochs of Model.fit with a
backend whose session's train_step returns at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile_w1 import BATCH, BATCHES, best_of, build, fit_epoch, table

import fastnn as fn
from fastnn.backends.spec import Metric, TrainingBuffers
from fastnn.benchmark import data as bench_data


class Batches:
    """The full batches of one shuffled epoch, in turn, forever."""

    def __init__(self, n: int) -> None:
        self.order = np.random.default_rng(0).permutation(n)
        self.count = n // BATCH
        self.index = 0

    def next(self) -> np.ndarray:
        start = (self.index % self.count) * BATCH
        self.index += 1
        return self.order[start : start + BATCH]


def step_costs(model: fn.Model, X, y, rounds: int) -> list[tuple[str, float]]:
    backend, net, params, optimizer = model.backend_impl(), model.net(), model.params, None
    ws, grads = backend.workspace(net, BATCH), np.zeros_like(params)
    segments, loss = net.segments(), model.loss.spec
    optimizer = model.optimizer
    optimizer.build(params.size, params.dtype)
    rule = optimizer.step_spec()
    xbuf, ybuf = np.empty((BATCH, X.shape[1]), X.dtype), np.empty(BATCH, y.dtype)
    batches, metrics = Batches(X.shape[0]), (Metric.ACCURACY,)

    def take():
        rows = batches.next()
        np.take(X, rows, axis=0, out=xbuf)
        np.take(y, rows, out=ybuf)

    def four_calls():
        take()
        out = backend.forward(net, params, xbuf, ws, True, 0, 1)
        backend.loss_grad(net, loss, params, ws, ybuf)
        (out.argmax(axis=1) == ybuf).sum()  # the accuracy fit summed in NumPy
        backend.backward(net, params, grads, ws, xbuf)
        backend.step(rule, params, grads, optimizer.states, segments, 1e-3, 1)

    buffers = TrainingBuffers(params, grads, tuple(optimizer.states))
    session = backend.session(net, loss, rule, buffers, BATCH, metrics)
    session.bind_data(X, y)

    def train_step():
        session.train_step(batches.next(), 1e-3, 1, 1)

    take()
    gathered_x, gathered_y = xbuf.copy(), ybuf.copy()
    contiguous = backend.session(net, loss, rule, buffers, BATCH, metrics)
    contiguous.bind_data(gathered_x, gathered_y)
    whole = slice(0, BATCH)

    def train_step_gathered():  # the batch already contiguous: no gather
        contiguous.train_step(whole, 1e-3, 1, 1)

    def four_calls_gathered():  # the separate optimizer pass, no gather, no metric
        backend.forward(net, params, gathered_x, ws, True, 0, 1)
        backend.loss_grad(net, loss, params, ws, gathered_y)
        backend.backward(net, params, grads, ws, gathered_x)
        backend.step(rule, params, grads, optimizer.states, segments, 1e-3, 1)

    parts = [
        ("np.take of a batch (x, y)", take),
        ("four calls + np.take + NumPy accuracy (before)", four_calls),
        ("train_step, rows gathered in C (now)", train_step),
        ("four calls on a contiguous batch (update: one pass)", four_calls_gathered),
        ("train_step on a contiguous batch (update: per layer)", train_step_gathered),
    ]
    return interleaved_best(parts, rounds)


def interleaved_best(parts, rounds: int) -> list[tuple[str, float]]:
    """The minimum seconds per call of each part, the parts taking turns in every round
    (on a shared machine, what one part meets the others meet too)."""
    best = dict.fromkeys(name for name, _ in parts)
    for _ in range(rounds):
        for name, call in parts:
            seconds = best_of(call, seconds=0.05)
            best[name] = seconds if best[name] is None else min(best[name], seconds)
    return list(best.items())


class _Instant:
    """A backend whose session's train_step costs nothing: what fit spends around it
    remains."""

    def __init__(self, inner) -> None:
        self.name, self.inner = inner.name, inner

    def session(self, *args, **kwargs):
        return _InstantSession(self.inner.session(*args, **kwargs))


class _InstantSession:
    def __init__(self, inner) -> None:
        self.inner, self.params, self.grads = inner, inner.params, inner.grads
        self.states, self.totals = inner.states, inner.totals

    def bind_data(self, *args):
        pass

    def release_data(self):
        pass

    def reset_totals(self):
        pass

    def train_step(self, rows, lr, t, dropout_step):
        return 0.5


class _EpochClock(fn.callbacks.Callback):
    """The epoch proper, without fit's once-per-call input checks."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


def python_per_batch(model: fn.Model, X, y) -> float:
    instant, clock, best = _Instant(model.backend_impl()), _EpochClock(), float("inf")
    model.backend_impl = lambda: instant
    try:
        for _ in range(10):
            model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[clock])
            best = min(best, clock.seconds)
    finally:
        del model.backend_impl
    return best / BATCHES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--rounds", type=int, default=20, help="turns of the timed parts")
    args = parser.parse_args()
    if args.threads:
        fn.set_num_threads(args.threads)
    data = bench_data.load("auto")
    X, y = data.X_train, data.y_train
    model = build("native", args.optimizer)
    for _ in range(2):  # warm-up: the moments reach their steady state
        fit_epoch(model, X, y)
    started = time.perf_counter()
    rows = [*step_costs(model, X, y, args.rounds)]
    rows.append(("fit's Python around train_step", python_per_batch(model, X, y)))
    took = time.perf_counter() - started
    print(f"{data.source}: W1 {args.optimizer}, {BATCHES} batches of {BATCH}, "
          f"{fn.get_num_threads()} thread(s) (timings took {took:.0f} s)")  # fmt: skip
    table(
        ["per batch", "µs", "ms/epoch"],
        [[name, f"{s * 1e6:.1f}", f"{s * BATCHES * 1e3:.1f}"] for name, s in rows],
    )


if __name__ == "__main__":
    main()
