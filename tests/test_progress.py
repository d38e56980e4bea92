"""What fit prints for verbose=0, 1 (tqdm bar, or lines without tqdm) and 2."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import fastnn as fn
from fastnn import progress


def _fit(verbose: int, epochs: int = 3, **options):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = fn.Model([fn.Dense(8, "relu"), fn.Dense(2, "softmax")], seed=0, backend="numpy")
    model.compile("cross_entropy", "adam", metrics=["accuracy"])
    return model.fit(X, y, epochs=epochs, batch_size=32, verbose=verbose, **options)


LINE = re.compile(
    r"^Epoch (\d+)/3 - [\d.]+m?s - [\d,]+ samples/s( - ETA [\dhms.]+)? - loss: [\d.]+ - "
    r"accuracy: [\d.]+ - val_loss: [\d.]+ - val_accuracy: [\d.]+$"
)


def _assert_epoch_lines(text: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 3, text
    for number, line in enumerate(lines, 1):
        match = LINE.match(line)
        assert match, line
        assert int(match.group(1)) == number
        assert (match.group(2) is not None) == (number < 3)  # time left, until the last


def test_verbose_0_is_silent(capsys):
    _fit(0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch(capsys):
    _fit(2, validation_split=0.2)
    _assert_epoch_lines(capsys.readouterr().out)


def test_verbose_1_without_tqdm_falls_back_to_lines(capsys, monkeypatch):
    monkeypatch.setattr(progress, "tqdm", None)
    _fit(1, validation_split=0.2)
    _assert_epoch_lines(capsys.readouterr().out)


def test_verbose_1_shows_a_tqdm_bar_with_rate_time_left_loss_and_metrics(capsys):
    pytest.importorskip("tqdm")
    _fit(1, validation_split=0.2)
    out = capsys.readouterr().out
    for number in (1, 2, 3):
        assert f"Epoch {number}/3" in out
    assert "samples/s" in out
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", out)  # elapsed < time left
    final = out.strip().splitlines()[-1]
    assert re.search(r"loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+ - val_acc", final)


def test_the_bar_shows_the_running_mean_loss(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(progress, "POSTFIX_INTERVAL", 0.0)
    stream = io.StringIO()
    logger = progress.ProgressLogger(1, epochs=1, n_samples=30, stream=stream)
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    for loss in (3.0, 2.0, 1.0):
        logger.batch_end(10, loss)
    assert logger.bar.postfix == "loss: 2.0000"
    logger.on_epoch_end(0, {"loss": 2.0})
    assert logger.bar is None and "loss: 2.0000" in stream.getvalue()


@pytest.mark.parametrize(
    "seconds, text",
    [(0.0032, "3.2ms"), (0.41, "0.41s"), (12.34, "12.3s"), (125, "2m05s"), (3720, "1h02m")],
)
def test_durations_read_naturally(seconds, text):
    assert progress.format_seconds(seconds) == text
