"""`fastnn train`: flags over recipes, standardization folded into the model, errors, and
the Fashion-MNIST recipe's accuracy."""

from __future__ import annotations

import contextlib
import io
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


SEEDS = (0, 1, 2)


def _fashion_mnist_recipe(*flags: str) -> list[float]:
    """Test accuracies of `fastnn train --dataset fashion-mnist` over SEEDS (with flags)."""
    try:
        fn.datasets.load_fashion_mnist()
    except FileNotFoundError as missing:
        pytest.skip(
            f"Fashion-MNIST is not installed ({missing}); apt-get install dataset-fashion-mnist"
        )
    accuracies = []
    for seed in SEEDS:
        out, err = io.StringIO(), io.StringIO()
        argv = ["train", "--verbose", "0", "--dataset", "fashion-mnist", "--seed", str(seed)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main([*argv, *flags])
        assert status == 0, err.getvalue()
        text = out.getvalue()
        assert "adamw lr 0.002 cosine, weight decay 0.01, batch 256, 12 epochs" in text
        assert "standardized inputs, dropout 0.05" in text
        assert ("bf16 products" in text) == ("bf16" in flags)
        print(text.strip().splitlines()[-1])
        accuracies.append(_accuracy(text))
    return accuracies


@pytest.fixture(scope="module")
def fashion_mnist_float32():
    """The float32 recipe's accuracies, trained once for the tests below (~30 s)."""
    return _fashion_mnist_recipe()


@pytest.mark.slow
def test_fashion_mnist_recipe_reaches_90_percent(fashion_mnist_float32):
    """Issue 4's accuracy at speed: the defaults reach 0.90, mean of seeds 0-2 (the time,
    <= 10 s on 2 cores, is printed and reported, not asserted on a shared CI machine)."""
    print("Fashion-MNIST recipe, seeds 0-2:", fashion_mnist_float32)
    assert np.mean(fashion_mnist_float32) >= 0.90, fashion_mnist_float32


@pytest.mark.slow
def test_fashion_mnist_recipe_in_bf16_is_within_0_3_points(fashion_mnist_float32):
    """Issue 13: the recipe with bf16 products (--precision bf16, at the bf16 level this
    CPU has) reaches the float32 recipe's mean test accuracy over seeds 0-2 within 0.3
    points (measured on Zen 3, portable level: 0.9009 float32, 0.9008 bf16)."""
    bf16 = _fashion_mnist_recipe("--precision", "bf16")
    print("Fashion-MNIST recipe, seeds 0-2, float32:", fashion_mnist_float32, "bf16:", bf16)
    assert abs(np.mean(bf16) - np.mean(fashion_mnist_float32)) <= 0.003, (
        bf16,
        fashion_mnist_float32,
    )
