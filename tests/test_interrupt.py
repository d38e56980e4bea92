"""Ctrl-C while the native kernels run (SPEC §6: Ctrl-C in fit leaves a usable model).

The C kernels run with the GIL released and cannot be interrupted; Python runs its
SIGINT handler when the call returns. During fit the handler only raises a flag, so
training stops at the next batch boundary: the model then holds exactly the state of
the completed steps. During predict the usual KeyboardInterrupt arrives once the call
has returned, and the model is untouched.

The signal comes from a timer thread, as a user's Ctrl-C would, at a moment when the
main thread is known to be inside a long native call.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback

import numpy as np
import pytest
from conftest import BACKENDS

import fastnn as fn

pytestmark = pytest.mark.skipif("native" not in BACKENDS, reason="native backend not built")

N_IN, BATCH = 784, 2048


def _data():
    rng = np.random.default_rng(0)
    X = rng.random((4 * BATCH, N_IN), dtype=np.float32)
    return X, rng.integers(0, 10, len(X))


def _model():
    model = fn.Model(
        [fn.Dense(512, "relu"), fn.Dropout(0.1), fn.Dense(512, "relu"), fn.Dense(10, "softmax")],
        input_dim=N_IN,
        seed=7,
        backend="native",
    )
    model.compile(loss="cross_entropy", optimizer=fn.optimizers.Adam(lr=1e-3, clipnorm=1.0))
    return model


def _state(model):
    """Everything a step changes: parameters, optimizer state and counters."""
    return (
        model.params.copy(),
        [s.copy() for s in model.optimizer.states],
        model.optimizer.iterations,
        model.steps_trained,
    )


def _assert_same_state(a, b):
    params_a, states_a, iterations_a, steps_a = a
    params_b, states_b, iterations_b, steps_b = b
    assert (iterations_a, steps_a) == (iterations_b, steps_b)
    assert np.array_equal(params_a, params_b)
    assert len(states_a) == len(states_b)
    for x, y in zip(states_a, states_b):
        assert np.array_equal(x, y)


def _in_native_call(thread_id: int, function: str, filename: str) -> bool:
    """Whether the Python frame on top of `thread_id`'s stack is `function` of
    `filename`, i.e. the thread is inside the compiled call that function makes."""
    frame = sys._current_frames().get(thread_id)
    return (
        frame is not None
        and frame.f_code.co_name == function
        and frame.f_code.co_filename.endswith(filename)
    )


def _ctrl_c_when(condition, timeout: float = 30.0) -> threading.Thread:
    """A thread that sends SIGINT to this process as soon as condition() holds; its
    `sent_at` attribute is the perf_counter time it did."""

    def run():
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                return
            time.sleep(0.0005)
        sender.sent_at = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=run, daemon=True)
    sender.sent_at = None
    sender.start()
    return sender


class _BatchClock(fn.callbacks.Callback):
    """When each batch began and ended (perf_counter)."""

    def __init__(self):
        super().__init__()
        self.begins, self.ends = [], []

    def on_batch_begin(self, batch, logs=None):
        self.begins.append(time.perf_counter())

    def on_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


class _StopAfter(fn.callbacks.Callback):
    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def on_batch_end(self, batch, logs=None):
        if self.model.steps_trained == self.steps:
            self.model.stop_training = True


def test_ctrl_c_inside_a_kernel_stops_fit_at_the_next_batch_boundary():
    X, y = _data()
    model = _model()
    main = threading.get_ident()
    clock = _BatchClock()
    # the second batch's training step (forward, backward and update: one call into C,
    # made by fit's LocalStrategy.run_batch, the Python frame on top during it)
    sender = _ctrl_c_when(
        lambda: len(clock.begins) == 2 and _in_native_call(main, "run_batch", "training.py")
    )
    with pytest.warns(RuntimeWarning, match=r"interrupted .* epoch 1, before batch 3"):
        history = model.fit(X, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[clock])
    sender.join()
    assert sender.sent_at is not None, "the signal was never sent"
    assert clock.begins[1] < sender.sent_at < clock.ends[1], "not sent during batch 2"
    assert model.steps_trained == 2 and model.epochs_trained == 0 and history.epoch == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    # the same model trained for exactly the two completed steps, uninterrupted
    reference = _model()
    reference.fit(X, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[_StopAfter(2)])
    _assert_same_state(_state(model), _state(reference))

    # and both go on alike: the interrupted model is fully usable
    model.fit(X[:BATCH], y[:BATCH], epochs=1, batch_size=BATCH // 2, verbose=0)
    reference.fit(X[:BATCH], y[:BATCH], epochs=1, batch_size=BATCH // 2, verbose=0)
    _assert_same_state(_state(model), _state(reference))


def test_ctrl_c_inside_predict_raises_after_the_call():
    X, _ = _data()
    huge = np.tile(X, (2, 1))  # 16384 rows: half a second of GEMMs or more
    model = _model()
    before = _state(model)
    want = model.predict(X[:5])
    main = threading.get_ident()
    sender = _ctrl_c_when(lambda: _in_native_call(main, "predict", "native.py"))
    with pytest.raises(KeyboardInterrupt) as raised:
        model.predict(huge)
        time.sleep(5)  # not reached: the interrupt comes as the call returns
    sender.join()
    assert sender.sent_at is not None, "the signal was never sent"
    innermost = traceback.extract_tb(raised.tb)[-1]
    assert innermost.filename.endswith("native.py") and innermost.name == "predict", innermost
    _assert_same_state(_state(model), before)
    assert np.array_equal(model.predict(X[:5]), want)
