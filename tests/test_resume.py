"""Checkpoint and resume: a run killed mid-training and resumed from its last checkpoint
ends bitwise identical to a run that was never interrupted."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn as fn

SETUP = """
import numpy as np
import fastnn as fn

def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(240, 12)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(np.int64) + (X[:, 3] > 1)
    return X, y

def model(backend):
    m = fn.Model([fn.Dense(32, "relu"), fn.Dropout(0.3), fn.Dense(16, "tanh"),
                  fn.Dense(3, "softmax")], seed=11, backend=backend)
    m.compile(loss="cross_entropy",
              optimizer=fn.optimizers.Adam(lr=fn.schedules.CosineDecay(3e-3, 6), clipnorm=2.0),
              metrics=["accuracy"])
    return m
"""


def _namespace() -> dict:
    namespace: dict = {}
    exec(SETUP, namespace)
    return namespace


def test_killed_run_resumes_bitwise_identically(backend, tmp_path):
    checkpoint = tmp_path / "ckpt.fnn"
    script = SETUP + textwrap.dedent(f"""
        import os, signal

        class KillDuringEpoch3(fn.callbacks.Callback):
            def on_batch_end(self, batch, logs=None):
                if self.model.epochs_trained == 2 and batch == 4:
                    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush

        X, y = data()
        m = model({backend!r})
        m.fit(X, y, epochs=6, batch_size=16, verbose=0, callbacks=[
            fn.callbacks.ModelCheckpoint({str(checkpoint)!r}), KillDuringEpoch3()])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr  # it really was killed

    ns = _namespace()
    X, y = ns["data"]()
    resumed = fn.load_model(checkpoint)
    assert resumed.epochs_trained == 2
    resumed.fit(X, y, epochs=4, batch_size=16, verbose=0)

    uninterrupted = ns["model"](backend)
    uninterrupted.fit(X, y, epochs=6, batch_size=16, verbose=0)
    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.fnn"]  # no temporary left over


def test_keras_style_initial_epoch(backend, tmp_path):
    ns = _namespace()
    X, y = ns["data"]()
    first = ns["model"](backend)
    first.fit(X, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "m.fnn")
    again = fn.load_model(tmp_path / "m.fnn")
    history = again.fit(X, y, epochs=5, initial_epoch=2, batch_size=16, verbose=0)
    assert history.epoch == [2, 3, 4]
    reference = ns["model"](backend)
    reference.fit(X, y, epochs=5, batch_size=16, verbose=0)
    for a, b in zip(reference.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("moment", ["before-rename", "mid-write"])
def test_crash_while_saving_keeps_the_old_checkpoint(tmp_path, moment):
    """A process killed while saving leaves the previous file intact and loadable."""
    target = tmp_path / "m.fnn"
    ns = _namespace()
    old = ns["model"]("numpy")
    old.build(12)
    old.save(target)
    script = SETUP + textwrap.dedent(f"""
        import os, signal
        import numpy.lib.format as npformat
        m = model("numpy"); m.build(12)
        if {moment!r} == "before-rename":
            os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        else:
            write = npformat.write_array
            def half_then_die(fp, array, **kw):
                fp.write(b"\\x93NUMPY partial")
                os.kill(os.getpid(), signal.SIGKILL)
            npformat.write_array = half_then_die
        m.save({str(target)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    loaded = fn.load_model(target)
    np.testing.assert_array_equal(loaded.params, old.params)
