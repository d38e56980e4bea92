"""The program tools/valgrind.sh runs under memcheck: a small native-backend run that
goes through every C entry point a user reaches.

Training (Dense + Dropout + GELU + softmax, Adam with clipnorm, validation split) on
two threads, predict (stack and heap scratch), evaluate, save and load, more training
after the load, and models made and dropped (the C descriptions and workspaces they
own must be freed). Small, because memcheck runs it about 50 times slower.
"""

from __future__ import annotations

import gc
import os
import tempfile

import numpy as np

import fastnn as fn
from fastnn.backends import native


def model(dtype: str) -> fn.Model:
    m = fn.Model(
        [fn.Dense(64, "relu"), fn.Dropout(0.2), fn.Dense(32, "gelu"), fn.Dense(3, "softmax")],
        seed=0,
        dtype=dtype,
        backend="native",
    )
    m.compile(
        loss="cross_entropy",
        optimizer=fn.optimizers.Adam(clipnorm=1.0),
        metrics=["accuracy"],
    )
    return m


def main() -> None:
    fn.set_num_threads(2)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 20))
    y = rng.integers(0, 3, len(X))
    for dtype in ("float32", "float64"):
        m = model(dtype)
        m.fit(X, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
        small, large = m.predict(X[:3]), m.predict(X)  # predict's scratch: stack, heap
        assert np.array_equal(small, large[:3])
        m.evaluate(X, y)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.fnn")
            m.save(path)
            again = fn.load_model(path)
        assert np.array_equal(again.predict(X), large)
        again.fit(X, y, epochs=1, batch_size=64, verbose=0)
    for _ in range(5):  # made, used and dropped
        model("float32").fit(X[:64], y[:64], epochs=1, batch_size=16, verbose=0)
    gc.collect()
    # native.info, not fn.info: that one starts `uname` (a forked child would write its
    # own memcheck summary into the same XML file)
    print("workload done on", native.info()["simd"])


if __name__ == "__main__":
    main()
