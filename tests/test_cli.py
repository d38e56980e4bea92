"""`fastnn train`: flags over recipes, standardization folded into the model, errors, and
the Fashion-MNIST recipe's accuracy."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastnn as fn
from fastnn import cli


def _train(capsys, *flags: str) -> tuple[int, str, str]:
    status = cli.main(["train", "--verbose", "0", *flags])
    out, err = capsys.readouterr()
    return status, out, err


def _accuracy(out: str) -> float:
    match = re.search(r"test accuracy (\d\.\d+)", out)
    assert match, out
    return float(match.group(1))


def test_flags_override_the_recipe(capsys):
    status, out, err = _train(
        capsys,
        "--epochs", "3", "--hidden", "16", "--optimizer", "adamw", "--weight-decay", "0.02",
        "--schedule", "cosine", "--standardize", "--lr", "0.005", "--batch-size", "64",
    )  # fmt: skip
    assert status == 0, err
    assert "network 64-16-10 relu, adamw lr 0.005 cosine, weight decay 0.02, batch 64" in out
    assert "3 epochs, standardized inputs, dropout 0," in out
    assert _accuracy(out) > 0.5


def test_the_default_recipe_trains_the_embedded_digits(capsys):
    status, out, err = _train(capsys)
    assert status == 0, err
    assert "adam lr 0.002 constant, batch 32, 40 epochs, raw inputs, dropout 0," in out
    assert _accuracy(out) >= 0.95


def test_a_saved_standardized_model_takes_raw_inputs(capsys, tmp_path):
    path = tmp_path / "digits.fnn"
    status, out, err = _train(capsys, "--standardize", "--epochs", "10", "--save", str(path))
    assert status == 0, err
    (_, _), (X_test, y_test) = fn.datasets.load_default()
    model = fn.load_model(path)
    assert model.evaluate(X_test, y_test)["accuracy"] == pytest.approx(_accuracy(out), abs=1e-4)


def test_weight_decay_needs_adamw(capsys):
    status, _, err = _train(capsys, "--optimizer", "sgd", "--weight-decay", "0.01")
    assert status == 2
    assert "--weight-decay applies to adamw only; the optimizer is sgd" in err


def test_the_recipe_weight_decay_is_dropped_with_another_optimizer(capsys):
    status, out, err = _train(capsys, "--dataset", "digits", "--optimizer", "sgd", "--epochs", "1")
    assert status == 0, err
    assert "weight decay" not in out


@pytest.mark.slow
def test_fashion_mnist_recipe_reaches_90_percent(capsys):
    """Issue 4's accuracy at speed: the defaults reach 0.90, mean of seeds 0-2 (the time,
    <= 10 s on 2 cores, is printed and reported, not asserted on a shared CI machine)."""
    try:
        fn.datasets.load_fashion_mnist()
    except FileNotFoundError as missing:
        pytest.skip(
            f"Fashion-MNIST is not installed ({missing}); apt-get install dataset-fashion-mnist"
        )
    accuracies = []
    for seed in range(3):
        status, out, err = _train(capsys, "--dataset", "fashion-mnist", "--seed", str(seed))
        assert status == 0, err
        assert "adamw lr 0.002 cosine, weight decay 0.01, batch 256, 12 epochs" in out
        assert "standardized inputs, dropout 0.05" in out
        accuracies.append(_accuracy(out))
    print("Fashion-MNIST recipe, seeds 0-2:", accuracies)
    assert np.mean(accuracies) >= 0.90, accuracies
