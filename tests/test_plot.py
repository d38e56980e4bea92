"""fastnn.plot: each function returns a Figure that renders to a real image."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib

matplotlib.use("Agg")  # never open a window, whatever the environment says

from matplotlib.figure import Figure
from matplotlib.image import imread

import fastnn as fn
from fastnn import plot

ROOT = Path(__file__).resolve().parents[1]


def _assert_real_image(figure, path: Path, min_colours: int = 8) -> None:
    """The figure renders to a PNG of a sensible size with several distinct colours."""
    assert isinstance(figure, Figure)
    figure.savefig(path, dpi=60)
    assert path.stat().st_size > 5_000
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert height >= 100 and width >= 100
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) >= min_colours


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 0] > 1)
    model = fn.Model([fn.Dense(16, "tanh"), fn.Dropout(0.1), fn.Dense(3, "softmax")], seed=0)
    model.compile("cross_entropy", fn.optimizers.Adam(0.05), metrics=["accuracy"])
    history = model.fit(X, y, epochs=8, batch_size=32, validation_split=0.2, verbose=0)
    return model, history, X, y


def test_history_has_one_axes_per_quantity(trained, tmp_path):
    _, history, _, _ = trained
    figure = plot.history(history, title="training")
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    assert all(len(ax.get_lines()) == 2 for ax in figure.axes)  # training + validation
    _assert_real_image(figure, tmp_path / "history.png")
    assert len(plot.history({"loss": [3.0, 2.0, 1.0]}).axes) == 1


def test_history_of_an_estimator_shows_its_loss_curve_and_validation_scores():
    from types import SimpleNamespace

    # what fastnn.sklearn's (and scikit-learn's) MLPs expose
    fitted = SimpleNamespace(loss_curve_=[0.9, 0.5, 0.3], validation_scores_=[0.6, 0.8, 0.85])
    figure = plot.history(fitted)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "score"]
    assert [len(ax.get_lines()) for ax in figure.axes] == [1, 1]


def test_decision_boundary_for_a_model_and_an_estimator(trained, tmp_path):
    model, _, X, y = trained
    figure = plot.decision_boundary(model, X, y, resolution=80)
    _assert_real_image(figure, tmp_path / "boundary.png")
    legend = figure.axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["0", "1", "2"]

    class Labeller:  # anything whose predict returns labels (scikit-learn style)
        def predict(self, points):
            return np.where(points[:, 0] > 0, "right", "left")

    labels = np.where(X[:, 0] > 0, "right", "left")
    _assert_real_image(plot.decision_boundary(Labeller(), X, labels), tmp_path / "labels.png")


def test_activations_shows_the_input_and_each_dense_layer(trained, tmp_path):
    model, _, X, _ = trained
    figure = plot.activations(model, X[0])
    image_axes = [ax for ax in figure.axes if ax.images]
    assert len(image_axes) == 3  # input, dense, dense (Dropout left out)
    widths = [ax.images[0].get_array().shape[1] for ax in image_axes]
    assert widths == [2, 16, 3]
    _assert_real_image(figure, tmp_path / "activations.png")
    with pytest.raises(ValueError, match="one input"):
        plot.activations(model, X[:2])


def test_confusion_matrix_counts_rows_true_any_labels(tmp_path):
    y_true = ["cat", "dog", "dog", "bird", "cat"]
    y_pred = ["cat", "dog", "cat", "bird", "cat"]
    figure = plot.confusion_matrix(y_true, y_pred, labels=["cat", "dog", "bird"])
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[2, 0, 0], [1, 1, 0], [0, 0, 1]])
    assert ax.get_ylabel() == "true" and [t.get_text() for t in ax.texts][:3] == ["2", "0", "0"]
    _assert_real_image(figure, tmp_path / "confusion.png")
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    counts = plot.confusion_matrix([0, 1, 1], scores).axes[0].images[0].get_array()
    np.testing.assert_array_equal(counts, [[1, 0], [1, 1]])


def test_bad_inputs_get_clear_errors(trained):
    model = trained[0]
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot.decision_boundary(model, np.ones((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="at least one epoch"):
        plot.history({})
    with pytest.raises(ValueError, match="one label per sample"):
        plot.confusion_matrix([0, 1], [0])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'fastnn\[plot\]'"):
        plot.history({"loss": [1.0]})


def test_import_fastnn_does_not_import_matplotlib():
    code = (
        "import sys, fastnn, fastnn.plot\n"
        "assert 'matplotlib' not in sys.modules\n"
        "import fastnn as fn\n"
        "assert fn.plot.history is fastnn.plot.history\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_cli_train_writes_the_loss_curve(tmp_path):
    from fastnn import cli

    out = tmp_path / "curve.png"
    status = cli.main(["train", "--epochs", "3", "--verbose", "0", "--plot", str(out)])
    assert status == 0
    assert out.stat().st_size > 5_000
