"""Ctrl-C while the native kernels run (SPEC §6: Ctrl-C in fit leaves a usable model).

The C kernels run with the GIL released and cannot be interrupted; Python runs its
SIGINT handler when the call returns. During fit the handler only raises a flag, so
training stops at the next batch boundary: the model then holds exactly the state of
the completed steps. During predict the usual KeyboardInterrupt arrives once the call
has returned, and the model is untouched.

The signal comes from a timer thread, as a user's Ctrl-C would, at a moment when the
main thread is known to be inside a long native call.

A program's own SIGINT handler stays in charge during fit (fastnn calls it at the next
batch boundary, so its KeyboardInterrupt stops fit there cleanly), and an ignored SIGINT
(nohup, background jobs) stays ignored: the second half of this file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings

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
    # made by fit's Strategy.run_batch, the Python frame on top during it)
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


# ---------------------------------------------------------------- the program's own handler
# fastnn installs its flag handler only in place of Python's default; a program's own
# handler stays in charge (fastnn calls it at the next batch boundary), an ignored
# SIGINT stays ignored (fastnn.interrupts).


class _OwnHandler:
    """A program's SIGINT handler: records each call, then raises `raises` (if any)."""

    def __init__(self, raises=None):
        self.calls = []
        self.raises = raises

    def __call__(self, signum, frame):
        self.calls.append((signum, frame))
        if self.raises is not None:
            raise self.raises


@pytest.fixture
def own_handler():
    handlers = []

    def install(raises=None):
        handler = _OwnHandler(raises)
        signal.signal(signal.SIGINT, handler)
        handlers.append(handler)
        return handler

    yield install
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupt_the_second_step(model, X, y, epochs=2):
    """fit, with a SIGINT sent while batch 2's training step runs in C."""
    main = threading.get_ident()
    clock = _BatchClock()
    sender = _ctrl_c_when(
        lambda: len(clock.begins) == 2 and _in_native_call(main, "run_batch", "training.py")
    )
    try:
        return model.fit(X, y, epochs=epochs, batch_size=BATCH, verbose=0, callbacks=[clock])
    finally:
        sender.join()
        assert sender.sent_at is not None, "the signal was never sent"
        assert clock.begins[1] < sender.sent_at < clock.ends[1], "not sent during batch 2"


def test_own_handler_raising_inside_a_kernel_stops_fit_at_the_next_batch_boundary(own_handler):
    """The handler's KeyboardInterrupt, which Python would raise as the native call
    returns (weights updated, counters not), is raised at the batch boundary instead."""
    handler = own_handler(raises=KeyboardInterrupt)
    X, y = _data()
    model = _model()
    with pytest.warns(RuntimeWarning, match=r"interrupted .* epoch 1, before batch 3"):
        history = _interrupt_the_second_step(model, X, y)
    assert [signum for signum, _ in handler.calls] == [signal.SIGINT]
    assert handler.calls[0][1] is not None  # the frame the signal arrived in
    assert signal.getsignal(signal.SIGINT) is handler
    assert model.steps_trained == 2 and history.epoch == []

    reference = _model()
    reference.fit(X, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[_StopAfter(2)])
    _assert_same_state(_state(model), _state(reference))


def test_own_handler_that_returns_lets_fit_go_on(own_handler):
    """A graceful-shutdown handler that only takes note: it is called, training goes on."""
    handler = own_handler()
    X, y = _data()
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = _interrupt_the_second_step(model, X, y, epochs=1)
    assert len(handler.calls) == 1
    assert model.steps_trained == 4 and history.epoch == [0]
    assert signal.getsignal(signal.SIGINT) is handler


def test_own_handler_raising_something_else_propagates_from_a_batch_boundary(own_handler):
    """A handler that exits (SystemExit) ends fit with that exception, but only at a
    batch boundary: the model holds the state of the completed steps."""
    own_handler(raises=SystemExit(3))
    X, y = _data()
    model = _model()
    with pytest.raises(SystemExit):
        _interrupt_the_second_step(model, X, y)
    reference = _model()
    reference.fit(X, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[_StopAfter(2)])
    _assert_same_state(_state(model), _state(reference))


class _SignalAfterBatch(fn.callbacks.Callback):
    """Sends SIGINT to this process from on_batch_end of batch `batch` (between steps),
    and records the SIGINT handler in place during fit."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch
        self.seen = None

    def on_batch_end(self, batch, logs=None):
        if batch == self.batch:
            self.seen = signal.getsignal(signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("backend", BACKENDS)
def test_own_handler_raising_between_batches_stops_before_the_next(own_handler, backend):
    handler = own_handler(raises=KeyboardInterrupt)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(200, 5)), rng.integers(0, 3, 200)
    model = fn.Model([fn.Dense(8, "relu"), fn.Dense(3, "softmax")], seed=0, backend=backend)
    model.compile(loss="cross_entropy", optimizer="adam")
    with pytest.warns(RuntimeWarning, match=r"interrupted .* epoch 1, before batch 4"):
        model.fit(X, y, epochs=2, batch_size=20, verbose=0, callbacks=[_SignalAfterBatch(2)])
    assert len(handler.calls) == 1 and model.optimizer.iterations == 3
    assert signal.getsignal(signal.SIGINT) is handler


_CHILD = """
import json, os, signal, sys, warnings
import numpy as np
import fastnn as fn

class SignalAfterBatch(fn.callbacks.Callback):
    seen = None
    def on_batch_end(self, batch, logs=None):
        if batch == 2:
            SignalAfterBatch.seen = repr(signal.getsignal(signal.SIGINT))
            os.kill(os.getpid(), signal.SIGINT)

if sys.argv[1] == "dfl":
    signal.signal(signal.SIGINT, signal.SIG_DFL)
rng = np.random.default_rng(1)
X, y = rng.normal(size=(200, 5)), rng.integers(0, 3, 200)
model = fn.Model([fn.Dense(8, "relu"), fn.Dense(3, "softmax")], seed=0, backend="numpy")
model.compile(loss="cross_entropy", optimizer="adam")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model.fit(X, y, epochs=2, batch_size=20, verbose=0, callbacks=[SignalAfterBatch()])
print(json.dumps({
    "at_start": repr(signal.SIG_IGN) if sys.argv[1] == "ign" else None,
    "during": SignalAfterBatch.seen,
    "after": repr(signal.getsignal(signal.SIGINT)),
    "steps": model.steps_trained,
    "warnings": [str(w.message) for w in caught],
}))
"""


def _child(mode: str) -> subprocess.CompletedProcess:
    """Run _CHILD in a fresh interpreter; "ign" starts it with SIGINT ignored, as nohup
    and a shell's background jobs do (Python then installs no handler of its own)."""

    def ignore_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        preexec_fn=ignore_sigint if mode == "ign" else None,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal dispositions")
def test_an_ignored_sigint_stays_ignored():
    result = _child("ign")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    ignored = repr(signal.SIG_IGN)
    assert report["during"] == ignored and report["after"] == ignored
    assert report["steps"] == 20 and report["warnings"] == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal dispositions")
def test_the_system_default_sigint_is_left_alone():
    """SIG_DFL chosen by the program: SIGINT ends the process, as the program asked."""
    result = _child("dfl")
    assert result.returncode == -signal.SIGINT, (result.returncode, result.stdout)
    assert result.stdout == ""
