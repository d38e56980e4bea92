"""Saving and loading: identical predictions, bitwise-identical continued training,
and clear errors for files that are not fastnn models."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import fastnn as fn


def _trained(backend, optimizer="adam", dtype="float32"):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 6)).astype(np.float32)
    y = rng.integers(0, 3, 96)
    model = fn.Model(
        [fn.Dense(16, "relu"), fn.Dropout(0.2), fn.Dense(8, "tanh"), fn.Dense(3, "softmax")],
        seed=7,
        backend=backend,
        dtype=dtype,
    )
    model.compile(loss="cross_entropy", optimizer=optimizer, metrics=["accuracy"])
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    return model, X, y


def test_predictions_identical_after_load(backend, tmp_path):
    model, X, _ = _trained(backend)
    model.save(tmp_path / "m.fnn")
    loaded = fn.load_model(tmp_path / "m.fnn")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_config() == model.get_config()
    assert loaded.backend == model.backend


@pytest.mark.parametrize(
    "optimizer",
    [
        fn.optimizers.Adam(lr=3e-3),
        fn.optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True),
        fn.optimizers.RMSprop(momentum=0.5),
        fn.optimizers.Adagrad(lr=0.05),
        fn.optimizers.AdamW(lr=fn.schedules.StepDecay(0.01, 1, 0.5), clipnorm=1.0),
    ],
    ids=lambda o: type(o).__name__,
)
def test_continued_training_is_bitwise_identical(backend, tmp_path, optimizer):
    import copy

    model, X, y = _trained(backend, copy.deepcopy(optimizer))
    model.save(tmp_path / "m.fnn")
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)  # shuffling + dropout continue
    resumed = fn.load_model(tmp_path / "m.fnn")
    resumed.fit(X, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.epochs_trained == model.epochs_trained == 4
    for a, b in zip(model.optimizer.states, resumed.optimizer.states):
        np.testing.assert_array_equal(a, b)


def test_split_training_equals_one_run(backend):
    """fit(2) + fit(2) == fit(4): the state that carries over is the state saved."""
    one, X, y = _trained(backend)
    one.fit(X, y, epochs=2, batch_size=16, verbose=0)
    model = fn.Model(
        [fn.Dense(16, "relu"), fn.Dropout(0.2), fn.Dense(8, "tanh"), fn.Dense(3, "softmax")],
        seed=7,
        backend=backend,
    )
    model.compile(loss="cross_entropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, y, epochs=4, batch_size=16, verbose=0)
    for a, b in zip(one.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_uncompiled_model_round_trips(tmp_path):
    model = fn.Model([fn.Dense(2, "tanh")], input_dim=3, seed=1, dtype="float64")
    model.save(tmp_path / "u.fnn")
    loaded = fn.load_model(tmp_path / "u.fnn")
    assert loaded.loss is None and loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded.params, model.params)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    model, _, _ = _trained("numpy")
    target = tmp_path / "m.fnn"
    model.save(target)
    before = target.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(OSError, match="simulated"):
        model.save(target)
    assert target.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["m.fnn"]


def test_save_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="not built"):
        fn.Model([fn.Dense(2)]).save(tmp_path / "x.fnn")


# ---------------------------------------------------------------- damaged and foreign files


def _members(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def saved(tmp_path):
    model, _, _ = _trained("numpy")
    path = tmp_path / "good.fnn"
    model.save(path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        fn.load_model(tmp_path / "absent.fnn")


@pytest.mark.parametrize("size", [0, 1, 10, 100, 1000])
def test_truncated_file(saved, size):
    saved.write_bytes(saved.read_bytes()[:size])
    with pytest.raises(fn.ModelFileError):
        fn.load_model(saved)


def test_random_bytes(saved):
    saved.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(fn.ModelFileError, match="not a zip"):
        fn.load_model(saved)


def test_pickled_array_is_refused(saved, tmp_path):
    members = _members(saved)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    members["params.npy"] = buffer.getvalue()
    _write(saved, members)
    with pytest.raises(fn.ModelFileError, match="params"):
        fn.load_model(saved)


def test_unknown_version(saved):
    members = _members(saved)
    document = json.loads(members["model.json"])
    document["version"] = 99
    members["model.json"] = json.dumps(document)
    _write(saved, members)
    with pytest.raises(fn.ModelFileError, match="version 99"):
        fn.load_model(saved)


def test_missing_and_extra_arrays(saved):
    members = _members(saved)
    del members["optimizer_1.npy"]
    _write(saved, members)
    with pytest.raises(fn.ModelFileError, match="missing"):
        fn.load_model(saved)
    members = _members(saved)
    members["optimizer_1.npy"] = members["optimizer_0.npy"]
    members["surprise.npy"] = members["optimizer_0.npy"]
    _write(saved, members)
    with pytest.raises(fn.ModelFileError, match="unexpected"):
        fn.load_model(saved)


def test_array_of_the_wrong_shape_or_dtype(saved):
    members = _members(saved)
    for bad in (np.zeros(5, np.float32), np.zeros(10_000, np.float64)):
        buffer = io.BytesIO()
        np.save(buffer, bad)
        members["params.npy"] = buffer.getvalue()
        _write(saved, members)
        with pytest.raises(fn.ModelFileError, match="params"):
            fn.load_model(saved)


def test_foreign_zip_and_bad_json(saved):
    _write(saved, {"hello.txt": b"hi"})
    with pytest.raises(fn.ModelFileError, match=r"no model\.json"):
        fn.load_model(saved)
    _write(saved, {"model.json": b"{not json"})
    with pytest.raises(fn.ModelFileError, match="not valid JSON"):
        fn.load_model(saved)
    _write(saved, {"model.json": json.dumps({"format": "other"})})
    with pytest.raises(fn.ModelFileError, match="format"):
        fn.load_model(saved)


def test_config_that_does_not_make_a_model(saved):
    members = _members(saved)
    document = json.loads(members["model.json"])
    document["config"]["layers"][0]["units"] = -3
    members["model.json"] = json.dumps(document)
    _write(saved, members)
    with pytest.raises(fn.ModelFileError, match="configuration"):
        fn.load_model(saved)


def test_pickle_keeps_layers_and_buffer_together(backend):
    import pickle

    model, X, y = _trained(backend)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))
    clone.layers[0].W[...] = 0  # still a view into the clone's own buffer
    assert not clone.params[: clone.layers[0].W.size].any()
    assert model.layers[0].W.any()
    clone.fit(X, y, epochs=1, verbose=0)  # optimizer state travelled too
    unbuilt = pickle.loads(pickle.dumps(fn.Model([fn.Dense(3, "tanh")], seed=4)))
    assert unbuilt.seed == 4 and not unbuilt.built


def test_layer_changes_after_build_reach_the_kernels(backend):
    model = fn.Model([fn.Dense(2, "relu")], input_dim=2, seed=0, backend=backend)
    model.layers[0].W = [[1.0, -1.0], [1.0, -1.0]]
    assert model.predict([[1.0, 1.0]]).tolist() == [[2.0, 0.0]]
    model.layers[0].activation = fn.activations.get("linear")
    assert model.predict([[1.0, 1.0]]).tolist() == [[2.0, -2.0]]
