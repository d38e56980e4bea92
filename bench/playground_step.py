"""What the playground's training costs: a step, an epoch and a frame of a playground-sized
network, through fastnn's public API as the playground calls it.

    python bench/playground_step.py [--threads 1 2] [--repeats 7]

The network is 2-8-8-1 (tanh, sigmoid output, binary cross-entropy, SGD lr 0.03) on the
playground's circle data. Rows:

* step: one batch of Model.fit (batch 10 and the full batch of 500 points), the cost
  inside a long fit (200 epochs) divided by its steps: the kernels plus fit's per-batch
  Python, without fit's per-call set-up;
* fit(epochs=1): one epoch of 500 points at batch 10 as a single fit call, set-up
  included: what one frame at speed "1 epoch/frame" pays;
* frame pictures: Session.frame() (the output over 64 x 64 cells, every neuron over
  20 x 20, the weights), and the two losses the page shows (Session._record_losses).

Each figure is the best of --repeats blocks (robust to other load on a shared machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import fastnn as fn
from fastnn import backends
from fastnn.playground import config, problems
from fastnn.playground.session import Session

POINTS = 500
LONG_FIT = 200


def best_of(repeats: int, block, calls: int) -> float:
    """Seconds per call: the fastest of `repeats` blocks of `calls` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            block()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def model(backend: str) -> fn.Model:
    net = fn.Model(
        [fn.Dense(8, "tanh"), fn.Dense(8, "tanh"), fn.Dense(1, "sigmoid")],
        input_dim=2,
        seed=0,
        backend=backend,
    )
    net.compile(loss="binary_cross_entropy", optimizer=fn.optimizers.SGD(lr=0.03))
    return net


def measure(backend: str, repeats: int) -> dict[str, float]:
    X, y = problems.make_points("circle", 0.05, seed=0)
    rows = {}
    for batch in (10, POINTS):
        net = model(backend)
        net.fit(X, y, epochs=2, batch_size=batch, verbose=0)  # warm: workspaces, caches
        steps = LONG_FIT * -(-POINTS // batch)
        fit_long = best_of(
            max(2, repeats // 2),
            lambda n=net, b=batch: n.fit(X, y, epochs=LONG_FIT, batch_size=b, verbose=0),
            1,
        )
        rows[f"step, batch {batch}"] = fit_long / steps
    net = model(backend)
    net.fit(X, y, epochs=2, batch_size=10, verbose=0)
    rows["fit(epochs=1), batch 10"] = best_of(
        repeats, lambda: net.fit(X, y, epochs=1, batch_size=10, verbose=0), 20
    )
    session = Session(config.parse({"hidden": [8, 8], "backend": backend}))
    session.train(2)
    rows["frame pictures (Session.frame)"] = best_of(repeats, session.frame, 20)
    rows["train + test loss (250 + 250 points)"] = best_of(repeats, session._record_losses, 20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    names = ["native", "numpy"] if backends.native_available() else ["numpy"]
    info = fn.info()
    print(f"fastnn {fn.__version__}, SIMD {info.get('simd')}, 2-8-8-1 tanh on {POINTS} points")
    for threads in args.threads:
        fn.set_num_threads(threads)
        results = {name: measure(name, args.repeats) for name in names}
        print(f"\n{threads} thread(s)")
        print(f"{'':40s}" + "".join(f"{name:>14s}" for name in names))
        for row in results[names[0]]:
            cells = "".join(f"{results[name][row] * 1e6:11.1f} us" for name in names)
            print(f"{row:40s}{cells}")


if __name__ == "__main__":
    main()
