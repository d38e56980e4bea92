"""The playground without its server: settings checks, the session's training and
pictures, "show code" reproducing the page's model to the bit, the bounded session store.

The server's HTTP API is tests/test_playground_server.py; the page in a real browser is
tests/test_playground_browser.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKENDS

import fastnn as fn
from fastnn.playground import config as settings
from fastnn.playground import problems
from fastnn.playground.session import NEURON_GRID, OUTPUT_GRID, LossHistory, Session
from fastnn.playground.sessions import SessionStore, StoreFull

BACKEND = BACKENDS[-1]  # native where it is built


def _session(**values) -> Session:
    return Session(settings.parse({"backend": BACKEND, **values}))


# --------------------------------------------------------------------------- settings


def test_defaults_are_the_tensorflow_playgrounds():
    config = settings.parse({})
    assert (config.dataset, config.hidden, config.activation) == ("circle", (4, 2), "tanh")
    assert (config.learning_rate, config.batch_size, config.train_ratio) == (0.03, 10, 0.5)


@pytest.mark.parametrize(
    "values, field",
    [
        ({"hidden": [4] * 7}, "hidden"),
        ({"hidden": [4, 9]}, "hidden[1]"),
        ({"hidden": [0]}, "hidden[0]"),
        ({"hidden": [2.5]}, "hidden[0]"),
        ({"hidden": [True]}, "hidden[0]"),
        ({"hidden": "4,4"}, "hidden"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"learning_rate": 11}, "learning_rate"),
        ({"learning_rate": "0.1"}, "learning_rate"),
        ({"regularization_rate": -1e-9}, "regularization_rate"),
        ({"regularization_rate": float("nan")}, "regularization_rate"),
        ({"activation": "softmax"}, "activation"),
        ({"activation": None}, "activation"),
        ({"regularization": "l3"}, "regularization"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"backend": "cuda"}, "backend"),
        ({"problem": "clustering"}, "problem"),
        ({"dataset": "moons"}, "dataset"),
        ({"dataset": "plane"}, "dataset"),  # a regression set for classification
        ({"problem": "regression", "dataset": "xor"}, "dataset"),
        ({"features": []}, "features"),
        ({"features": ["x3"]}, "features[0]"),
        ({"features": ["x1", "x1"]}, "features"),
        ({"features": ["x1"] * 8}, "features"),
        ({"noise": 0.6}, "noise"),
        ({"noise": -0.1}, "noise"),
        ({"train_ratio": 0.95}, "train_ratio"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 101}, "batch_size"),
        ({"batch_size": False}, "batch_size"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**40}, "seed"),
        ({"epochs_per_frame": 1000}, "epochs_per_frame"),
        ({"layers": 3}, "layers"),  # unknown setting
    ],
)
def test_every_bad_setting_is_refused_naming_its_field(values, field):
    with pytest.raises(settings.FieldError) as refused:
        settings.parse(values)
    assert refused.value.field == field, refused.value
    assert refused.value.message


def test_a_body_that_is_not_an_object_is_refused():
    for body in ([], "x", 3, None):
        with pytest.raises(settings.FieldError, match="JSON object") as refused:
            settings.parse(body)
        assert refused.value.field == "body"


def test_changing_the_problem_picks_one_of_its_data_sets():
    config = settings.parse({"problem": "regression"})
    assert config.dataset == "plane"
    assert settings.parse({"problem": "classification"}, config).dataset == "circle"
    assert settings.parse({"features": ["sin_x2", "x1"]}).features == ("x1", "sin_x2")


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("dataset", [d for sets in settings.PROBLEMS.values() for d in sets])
def test_every_data_set_fits_the_picture_and_is_reproducible(dataset):
    points, targets = problems.make_points(dataset, 0.1, seed=3)
    again, _ = problems.make_points(dataset, 0.1, seed=3)
    assert points.shape == (problems.N_POINTS, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points, again)
    assert np.mean(np.abs(points) < problems.DOMAIN) > 0.98
    if dataset in settings.PROBLEMS["classification"]:
        assert set(np.unique(targets)) == {0, 1}
    else:
        assert targets.dtype == np.float32 and np.abs(targets).max() < 1.6


def test_xor_is_centred_so_that_x1_times_x2_separates_it():
    points, labels = problems.make_points("xor", 0.0, seed=0)
    product = problems.features(points, ("x1_times_x2",))[:, 0]
    np.testing.assert_array_equal(product < 0, labels == 1)


def test_the_grid_runs_row_by_row_from_the_top_left():
    grid = problems.grid(4)
    assert grid.shape == (16, 2)
    assert grid[0, 0] < 0 < grid[0, 1]  # top left: x1 < 0, x2 > 0
    assert grid[3, 0] > 0 and grid[3, 1] == grid[0, 1]  # along the top row
    assert grid[-1, 0] > 0 > grid[-1, 1]


# --------------------------------------------------------------------------- training


def _decoded(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8)


def test_a_session_learns_xor_and_draws_every_neuron():
    session = _session(dataset="xor", hidden=[4, 4])
    start = session.test_loss
    session.train(60)
    assert session.epoch == 60
    assert session.test_loss < 0.1 < start
    frame = session.frame()
    json.dumps(frame, allow_nan=False)
    output, neurons = _decoded(frame["output"]), _decoded(frame["neurons"])
    assert output.size == OUTPUT_GRID**2 and neurons.size == 8 * NEURON_GRID**2
    assert output.min() < 40 and output.max() > 215  # both classes are drawn
    assert [np.shape(w) for w in frame["weights"]] == [(2, 4), (4, 4), (4, 1)]
    assert [len(b) for b in frame["biases"]] == [4, 4, 1]
    np.testing.assert_allclose(frame["weights"][1], session.model.get_weights()[2], atol=1e-4)


def test_the_output_picture_is_the_models_prediction_over_the_grid():
    session = _session(dataset="circle", features=["x1_squared", "x2_squared"], hidden=[])
    session.train(20)
    grid = problems.grid(OUTPUT_GRID)
    p = session.model.predict(problems.features(grid, ("x1_squared", "x2_squared")))[:, 0]
    expected = np.rint((np.clip(2 * p.astype(np.float64) - 1, -1, 1) + 1) * 127.5)
    np.testing.assert_array_equal(_decoded(session.frame()["output"]), expected.astype(np.uint8))


def test_the_reported_loss_is_the_data_loss_without_the_penalty():
    session = _session(regularization="l2", regularization_rate=0.1)
    session.train(5)
    p = session.model.predict(session.X_test)[:, 0].astype(np.float64)
    y = session.y_test
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert session.test_loss == pytest.approx(bce, rel=1e-6)
    assert session.model.evaluate(session.X_test, session.y_test)["loss"] > bce  # + penalty


def test_live_settings_change_the_running_network_and_the_rest_start_again():
    session = _session()
    session.train(3)
    weights = session.model.get_weights()
    session.apply(settings.parse({"learning_rate": 0.3, "batch_size": 25}, session.config))
    assert session.epoch == 3 and session.model.optimizer.lr == 0.3
    for old, new in zip(weights, session.model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert session.changed_while_training == {"learning_rate", "batch_size"}
    version = session.version
    session.apply(settings.parse({"hidden": [3]}, session.config))
    assert session.epoch == 0 and session.version > version
    assert session.changed_while_training == set()
    assert [w.shape for w in session.model.get_weights()[0::2]] == [(2, 3), (3, 1)]


def test_reset_draws_new_initial_weights():
    session = _session()
    first = session.model.get_weights()[0]
    session.train(2)
    session.reset()
    assert session.epoch == 0 and session.model_seed == 1
    assert not np.array_equal(session.model.get_weights()[0], first)
    assert session.history.points == [(0, session.train_loss, session.test_loss)]


def test_divergence_stops_training_with_fastnns_message_and_finite_pictures():
    session = _session(
        problem="regression", activation="relu", hidden=[8, 8, 8], learning_rate=10.0
    )
    ran = session.train(50)
    assert ran < 50 and "diverged" in session.diverged
    assert all(np.isfinite(w).all() for w in session.model.get_weights())
    json.dumps(session.state(), allow_nan=False)
    assert session.train(5) == 0  # stays stopped until the settings or weights change
    session.apply(settings.parse({"learning_rate": 0.001}, session.config))
    assert session.diverged is None  # new settings: it tries again from the finite weights
    assert session.train(1) == 1 or "diverged" in session.diverged
    session.apply(settings.parse({"learning_rate": 10.0}, session.config))
    session.train(50)
    session.reset()
    assert session.diverged is None


def test_a_frame_trains_fewer_epochs_than_asked_when_they_would_be_slow():
    session = _session(epochs_per_frame=100)
    assert session.epochs_for_frame() == 1  # nothing measured yet
    session._seconds_per_epoch = 0.01
    assert session.epochs_for_frame(budget=0.04) == 4
    session._seconds_per_epoch = 1e-6
    assert session.epochs_for_frame(budget=0.04) == 100


def test_the_loss_curve_is_bounded_and_keeps_both_ends():
    history = LossHistory(capacity=10)
    for epoch in range(1, 1001):
        history.add(epoch, 1.0 / epoch, 2.0 / epoch)
    assert len(history.points) <= 10
    assert history.points[0][0] == 1 and history.points[-1][0] == 1000
    epochs = [point[0] for point in history.points]
    assert epochs == sorted(epochs)


def test_a_session_of_the_largest_network_stays_small():
    session = _session(
        hidden=[8] * 6, features=list(settings.FEATURES), optimizer="adam", epochs_per_frame=100
    )
    for _ in range(1200):  # more frames than the curve keeps
        session.history.add(session.epoch + len(session.history.points) + 1, 0.5, 0.5)
    session.train(2)
    assert len(session.history.points) <= 1000
    assert session.nbytes() < 1024 * 1024
    assert len(json.dumps(session.state())) < 200_000


def test_the_model_file_loads_into_fastnn_and_predicts_the_same(tmp_path):
    session = _session(dataset="spiral", hidden=[8, 8])
    session.train(5)
    path = tmp_path / "playground.fnn"
    path.write_bytes(session.model_file())
    loaded = fn.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(session.X_test), session.model.predict(session.X_test)
    )


# --------------------------------------------------------------------------- show code


@pytest.mark.parametrize(
    "values",
    [
        {"dataset": "xor", "hidden": [4, 4]},
        {
            "dataset": "spiral",
            "features": list(settings.FEATURES),
            "hidden": [5, 3, 2],
            "activation": "relu",
            "optimizer": "adam",
            "regularization": "l2",
            "regularization_rate": 0.003,
            "train_ratio": 0.7,
            "noise": 0.2,
            "seed": 5,
            "batch_size": 7,
        },
        {"problem": "regression", "dataset": "multi_gaussian", "hidden": [6], "noise": 0.1},
        {
            "problem": "regression",
            "features": ["sin_x1", "x2"],
            "hidden": [],
            "regularization": "l1",
            "regularization_rate": 0.01,
        },
        {"dataset": "gaussian", "backend": "numpy", "hidden": [2]},
    ],
)
def test_show_code_trains_the_very_same_model(values, tmp_path, monkeypatch):
    session = _session(**values)
    session.reset()  # a second seed, so that the printed seed matters
    for _ in range(4):
        session.train(3)
    code = session.code()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "playground.py", "exec"), namespace)
    model = namespace["model"]
    np.testing.assert_array_equal(namespace["X_test"], session.X_test)
    assert model.epochs_trained == session.epoch == 12
    for theirs, ours in zip(model.get_weights(), session.model.get_weights()):
        np.testing.assert_array_equal(theirs, ours)
    assert fn.load_model(tmp_path / "playground.fnn").count_params() == model.count_params()


def test_show_code_says_when_the_page_changed_settings_while_training():
    session = _session()
    session.train(2)
    session.apply(settings.parse({"learning_rate": 0.1}, session.config))
    assert "# The page changed learning_rate while training" in session.code()
    assert "lr=0.1" in session.code()


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"hidden": [8] * 6, "regularization": "l2", "regularization_rate": 0.001},
        {"features": list(settings.FEATURES), "seed": settings.MAX_SEED, "noise": 0.45},
        {"problem": "regression", "dataset": "multi_gaussian", "optimizer": "adam"},
        {"dataset": "gaussian", "learning_rate": 1e-05, "hidden": [], "train_ratio": 0.3},
    ],
)
def test_show_code_is_laid_out_as_ruff_format_lays_it_out(values):
    session = _session(**values)
    session.train(1)
    session.apply(settings.parse({"batch_size": 3}, session.config))
    code = session.code()
    ruff = [sys.executable, "-m", "ruff", "format", "--isolated", "-"]
    try:
        formatted = subprocess.run(ruff, input=code, capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError) as error:
        pytest.skip(f"ruff is not usable here ({error}); it is part of the test extras")
    assert formatted.stdout == code


# --------------------------------------------------------------------------- the store


class _Stream:
    def __init__(self) -> None:
        self.closed = None

    def close(self, code=None, reason=None) -> None:
        self.closed = code


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_store_is_bounded_and_makes_room_from_the_least_recently_used():
    clock = _Clock()
    store = SessionStore(max_sessions=3, idle_seconds=100, clock=clock)
    session = _session()
    keys = []
    for _ in range(3):
        clock.now += 1
        keys.append(store.add(session).key)
    store.get(keys[0])  # used again: the oldest is now keys[1]
    open_page = _Stream()
    store.get(keys[2]).streams.add(open_page)
    clock.now += 1
    fourth = store.add(session)
    assert len(store) == 3 and store.get(keys[1]) is None
    assert store.get(keys[0]) is not None and store.get(fourth.key) is not None
    store.get(keys[0]).playing = True
    fourth.streams.add(_Stream())
    with pytest.raises(StoreFull, match="all 3 sessions"):
        store.add(session)  # every one is in use: refused, nothing dropped
    assert len(store) == 3
    store.remove(keys[2])
    assert open_page.closed == 1001  # a dropped session closes its pages


def test_idle_sessions_are_reclaimed_and_open_pages_are_not():
    clock = _Clock()
    store = SessionStore(max_sessions=4, idle_seconds=10, clock=clock)
    session = _session()
    idle, watched, recent = (store.add(session) for _ in range(3))
    watched.streams.add(_Stream())
    clock.now = 8
    store.get(recent.key)
    clock.now = 12
    assert store.reclaim_idle() == [idle.key]
    clock.now = 30
    assert store.reclaim_idle() == [recent.key]
    assert [entry.key for entry in store] == [watched.key]


# --------------------------------------------------------------------------- no web library


def test_fastnn_and_its_cli_import_without_the_web_library():
    check = (
        "import sys; sys.modules['tornado'] = None\n"
        "import fastnn, fastnn.cli, fastnn.playground, fastnn.playground.session\n"
        "sys.exit(fastnn.cli.main(['playground', '--no-browser']))\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "fastnn playground: error:" in result.stderr
    assert "pip install 'fastnn[playground]'" in result.stderr
