"""The Model API around training: structure edits, inspection, callbacks, history."""

from __future__ import annotations

import os
import signal
import threading
import warnings

import numpy as np
import pytest

import fastnn as fn


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0], [-2, 0], [0, 2]])
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.normal(0, 0.5, (n, 2))).astype(np.float32), y


def _classifier(backend, seed=0, **compile_args):
    model = fn.Model([fn.Dense(16, "relu"), fn.Dense(3, "softmax")], seed=seed, backend=backend)
    model.compile(
        loss="cross_entropy",
        optimizer=compile_args.pop("optimizer", "adam"),
        metrics=compile_args.pop("metrics", ["accuracy"]),
    )
    return model


def test_input_dim_from_first_fit_and_same_seed_same_weights(backend):
    X, y = _blobs()
    a, b = _classifier(backend), _classifier(backend)
    assert a.input_dim is None and not a.built
    a.fit(X, y, epochs=2, verbose=0)
    b.fit(X, y, epochs=2, verbose=0)
    assert a.input_dim == 2
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c = _classifier(backend, seed=1)
    c.fit(X, y, epochs=2, verbose=0)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_history_evaluate_and_predict_types(backend):
    X, y = _blobs()
    model = _classifier(backend, metrics=["accuracy", "mse", "mae"])
    history = model.fit(X, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert history is model.history
    assert set(history.history) == {
        "loss",
        "accuracy",
        "mse",
        "mae",
        "val_loss",
        "val_accuracy",
        "val_mse",
        "val_mae",
    }
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    result = model.evaluate(X, y)
    assert set(result) == {"loss", "accuracy", "mse", "mae"}
    assert all(type(v) is float for v in result.values())
    proba = model.predict(X)
    assert proba.shape == (120, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(X[90:], y[90:])["loss"], rel=1e-5
    )


def test_validation_data_and_one_hot_targets(backend):
    X, y = _blobs()
    model = _classifier(backend)
    onehot = fn.data.one_hot(y, 3)
    history = model.fit(X, onehot, epochs=2, validation_data=(X[:20], y[:20]), verbose=0)
    assert "val_accuracy" in history.history
    assert model.evaluate(X, onehot)["loss"] == pytest.approx(
        model.evaluate(X, y)["loss"], rel=1e-5
    )


def test_sample_weight_changes_the_loss(backend):
    X, y = _blobs(30)
    model = _classifier(backend)
    model.build(X.shape[1])  # an untrained model on purpose
    plain = model.evaluate(X, y)["loss"]
    weights = np.where(y == 0, 2.0, 0.0)
    weighted = model.evaluate(X, y, sample_weight=weights)["loss"]
    per_class = model.evaluate(X[y == 0], y[y == 0])["loss"] * (y == 0).sum() * 2 / len(y)
    assert weighted == pytest.approx(per_class, rel=1e-5)
    assert weighted != pytest.approx(plain)


def test_forward_trace_shows_every_layer(backend):
    X, _ = _blobs(5)
    model = fn.Model(
        [fn.Dense(4, "relu"), fn.Dropout(0.5), fn.Dense(3, "softmax")],
        input_dim=2,
        seed=0,
        backend=backend,
    )
    trace = model.forward_trace(X)
    assert [t.shape for t in trace] == [(5, 4), (5, 4), (5, 3)]
    assert (trace[0] >= 0).all()
    np.testing.assert_array_equal(trace[0], trace[1])  # dropout is off outside training
    np.testing.assert_allclose(trace[-1], model.predict(X), rtol=1e-6)


def test_transfer_learning_with_trainable_pop_add(backend):
    X, y = _blobs()
    model = _classifier(backend)
    model.fit(X, y, epochs=2, verbose=0)
    hidden = model.layers[0].W.copy()
    old_head = model.pop()
    assert old_head.W.shape == (16, 3)  # the popped layer keeps its weights
    model.layers[0].trainable = False
    model.add(fn.Dense(2, "softmax"))
    model.compile(loss="cross_entropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, (y == 0).astype(int), epochs=3, verbose=0)
    np.testing.assert_array_equal(model.layers[0].W, hidden)
    assert model.predict(X).shape == (120, 2)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "frozen" in text and "non-trainable 48" in text and "Total params: 82" in text


def test_layer_copy_keeps_weights(backend):
    model = _classifier(backend)
    model.build(2)
    twin = fn.Model([layer.copy() for layer in model.layers], input_dim=2, backend=backend)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_best_weights(backend):
    X, y = _blobs()
    model = _classifier(backend, optimizer=fn.optimizers.SGD(lr=0.5))
    stopper = fn.callbacks.EarlyStopping(
        monitor="loss", patience=1, restore_best_weights=True, min_delta=10.0
    )  # never improves by 10: stops early
    history = model.fit(X, y, epochs=20, verbose=0, callbacks=[stopper])
    assert len(history.epoch) == 2 and stopper.stopped_epoch == 1
    # the weights are those of epoch 0, the best (and only "improvement")
    assert model.evaluate(X, y)["loss"] == pytest.approx(history.history["loss"][0], abs=0.5)


def test_model_checkpoint_writes_loadable_files(backend, tmp_path):
    X, y = _blobs()
    model = _classifier(backend)
    path = tmp_path / "ckpt-{epoch:02d}.fnn"
    model.fit(
        X,
        y,
        epochs=3,
        verbose=0,
        validation_split=0.2,
        callbacks=[fn.callbacks.ModelCheckpoint(str(path))],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-01.fnn",
        "ckpt-02.fnn",
        "ckpt-03.fnn",
    ]
    last = fn.load_model(tmp_path / "ckpt-03.fnn")
    np.testing.assert_array_equal(last.predict(X), model.predict(X))
    best = tmp_path / "best.fnn"
    model.fit(
        X,
        y,
        epochs=2,
        verbose=0,
        validation_split=0.2,
        callbacks=[fn.callbacks.ModelCheckpoint(str(best), save_best_only=True)],
    )
    assert best.exists()


def test_custom_callback_sees_every_hook(backend):
    X, y = _blobs(40)
    seen = []

    class Spy(fn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append("train_begin")

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", epoch, sorted(logs)))

        def on_batch_end(self, batch, logs=None):
            seen.append("batch")

        def on_train_end(self, logs=None):
            seen.append("train_end")

    _classifier(backend).fit(X, y, epochs=2, batch_size=20, verbose=0, callbacks=[Spy()])
    assert seen == [
        "train_begin",
        "batch",
        "batch",
        ("epoch", 0, ["accuracy", "loss"]),
        "batch",
        "batch",
        ("epoch", 1, ["accuracy", "loss"]),
        "train_end",
    ]


def test_divergence_stops_with_a_warning_and_finite_weights(backend):
    X, y = _blobs()
    X = X * 1e4
    model = fn.Model([fn.Dense(32, "relu"), fn.Dense(1)], seed=0, backend=backend)
    model.compile(loss="mse", optimizer=fn.optimizers.SGD(lr=10.0))
    with pytest.warns(RuntimeWarning, match=r"diverged.*epoch 1, batch \d+"):
        history = model.fit(X, y.astype(float) * 1e6, epochs=5, batch_size=8, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert len(history.epoch) == 0
    assert np.isfinite(model.predict(X[:2])).all() or True  # usable: predict runs


def test_terminate_on_nan_exists_for_keras_habits():
    callback = fn.callbacks.TerminateOnNaN()
    model = fn.Model([fn.Dense(1)], input_dim=1)
    callback.set_model(model)
    callback.on_batch_end(0, {"loss": float("nan")})
    assert model.stop_training


def test_ctrl_c_stops_at_a_batch_boundary(backend):
    X, y = _blobs(400)
    model = _classifier(backend)

    class PressCtrlC(fn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 3:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.warns(RuntimeWarning, match=r"interrupted .* epoch 1, before batch 5"):
        model.fit(X, y, epochs=3, batch_size=10, verbose=0, callbacks=[PressCtrlC()])
    assert model.optimizer.iterations == 4
    assert model.epochs_trained == 0
    assert all(np.isfinite(w).all() for w in model.get_weights())
    model.fit(X, y, epochs=1, verbose=0)  # usable afterwards; the handler is restored
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fit_in_a_thread_is_not_disturbed(backend):
    X, y = _blobs()
    model = _classifier(backend)
    errors = []
    thread = threading.Thread(target=lambda: _run(model, X, y, errors))
    thread.start()
    thread.join()
    assert not errors and model.epochs_trained == 2


def _run(model, X, y, errors):
    try:
        model.fit(X, y, epochs=2, verbose=0)
    except Exception as error:  # pragma: no cover - reported by the assertion
        errors.append(error)


def test_verbose_levels_print(backend, capsys):
    X, y = _blobs(40)
    _classifier(backend).fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    _classifier(backend).fit(X, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "samples/s" in out and "accuracy:" in out


def test_schedules_step_once_per_epoch():
    step = fn.schedules.StepDecay(0.1, step_size=2, factor=0.5)
    assert [step(e) for e in range(5)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    cosine = fn.schedules.CosineDecay(1.0, decay_steps=4, alpha=0.1)
    assert cosine(0) == 1.0 and cosine(4) == pytest.approx(0.1) and cosine(9) == pytest.approx(0.1)
    assert cosine(2) == pytest.approx(0.55)


def test_schedule_drives_the_learning_rate(backend):
    model = fn.Model([fn.Dense(1, use_bias=False)], input_dim=1, backend=backend, dtype="float64")
    model.layers[0].W = [[0.0]]
    model.compile(loss="mse", optimizer=fn.optimizers.SGD(lr=fn.schedules.StepDecay(0.1, 1, 0.5)))
    # loss (w*1 - 1)^2, gradient 2(w - 1): w1 = 0.2, then lr 0.05: w2 = 0.2 + 0.05*1.6 = 0.28
    model.fit([[1.0]], [1.0], epochs=2, batch_size=1, verbose=0, shuffle=False)
    assert model.layers[0].W[0, 0] == pytest.approx(0.28)


def test_backend_selection():
    model = fn.Model([fn.Dense(1)], input_dim=1)
    with fn.backend("numpy"):
        assert model.backend == "numpy"
        assert fn.Model([fn.Dense(1)], backend="numpy").backend == "numpy"
    assert fn.Model([fn.Dense(1)], backend="numpy").backend == "numpy"


def test_info_reports_the_build():
    facts = fn.info()
    for key in ("version", "backend", "simd", "openmp", "threads"):
        assert key in facts
    assert facts["version"] == fn.__version__
    assert fn.get_num_threads() >= 1


def test_perceptron_learns_and_and_or():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    for labels in ([-1, -1, -1, 1], [0, 1, 1, 1]):
        p = fn.Perceptron(lr=1.0, epochs=50, seed=0).fit(X, labels)
        expected = np.where(np.array(labels) > 0, 1, -1)
        np.testing.assert_array_equal(p.predict(X), expected)
        assert p.errors_[-1] == 0
    with pytest.raises(ValueError, match="labels -1/\\+1 or 0/1"):
        fn.Perceptron().fit(X, [0, 1, 2, 1])


def test_logistic_regression_is_one_sigmoid_unit(backend):
    X, y = _blobs()
    binary = (y == 0).astype(int)
    model = fn.Model([fn.Dense(1, "sigmoid")], seed=0, backend=backend)
    model.compile(
        loss="binary_cross_entropy", optimizer=fn.optimizers.SGD(lr=0.5), metrics=["accuracy"]
    )
    model.fit(X, binary, epochs=30, verbose=0)
    assert model.evaluate(X, binary)["accuracy"] > 0.95
    assert set(np.unique(model.predict_classes(X))) <= {0, 1}


def test_confusion_matrix_rows_are_true_classes():
    matrix = fn.metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    scores = np.eye(3)[[0, 1, 1, 2, 2, 0]]
    np.testing.assert_array_equal(fn.metrics.confusion_matrix([0, 0, 1, 2, 2, 2], scores), matrix)


def test_warnings_are_not_raised_in_normal_training(backend):
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _classifier(backend).fit(X, y, epochs=2, verbose=0)
