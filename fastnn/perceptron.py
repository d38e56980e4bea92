"""The classic perceptron: one threshold unit trained by Rosenblatt's rule."""

from __future__ import annotations

import numpy as np

from . import validation as check
from .backends.spec import Loss


class Perceptron:
    """Rosenblatt's perceptron: predict sign(x·w + b); on a mistake, w += lr·y·x.

    Labels may be -1/+1 or 0/1 (0 is read as -1); predict returns -1/+1. Training
    visits the samples in a seeded random order each epoch and stops early after an
    epoch without mistakes (the data were separated).
    """

    def __init__(self, lr: float = 1.0, epochs: int = 100, seed: int | None = None) -> None:
        self.lr = check.check_float("lr", lr, 0.0, low_open=True)
        self.epochs = check.check_int("epochs", epochs, 1)
        self.seed = None if seed is None else check.check_int("seed", seed, 0)
        self.W: np.ndarray | None = None
        self.b = 0.0
        self.errors_: list[int] = []  # mistakes per epoch

    def fit(self, X, y) -> Perceptron:
        """Learn w and b from X (n_samples, n_features) and labels y; returns self.
        ``errors_`` lists the mistakes of each epoch."""
        X = check.as_features("X", X, None, np.dtype(np.float64))
        labels = check.as_targets("y", y, Loss.MSE, 1, X.shape[0], np.dtype(np.float64))
        labels = labels.reshape(-1)
        values = set(np.unique(labels).tolist())
        if not values <= {-1.0, 1.0} and not values <= {0.0, 1.0}:
            raise ValueError(f"y must hold labels -1/+1 or 0/1; got values {sorted(values)}")
        signs = np.where(labels > 0, 1.0, -1.0)
        rng = np.random.default_rng(self.seed)
        self.W = np.zeros(X.shape[1])
        self.b = 0.0
        self.errors_ = []
        for _ in range(self.epochs):
            mistakes = 0
            for i in rng.permutation(X.shape[0]):  # the rule is sequential by nature
                if signs[i] * (X[i] @ self.W + self.b) <= 0:
                    self.W += self.lr * signs[i] * X[i]
                    self.b += self.lr * signs[i]
                    mistakes += 1
            self.errors_.append(mistakes)
            if mistakes == 0:
                break
        return self

    def decision_function(self, X) -> np.ndarray:
        """x·w + b for every row of X (its sign is the prediction)."""
        if self.W is None:
            raise RuntimeError("the perceptron is not fitted yet: call fit(X, y) first")
        X = check.as_features("X", X, self.W.shape[0], np.dtype(np.float64))
        return X @ self.W + self.b

    def predict(self, X) -> np.ndarray:
        """-1/+1 for every row of X (+1 where x·w + b >= 0, the step activation)."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def score(self, X, y) -> float:
        """Accuracy of predict(X) against labels y (-1/+1 or 0/1)."""
        signs = np.where(np.asarray(y).reshape(-1) > 0, 1, -1)
        return float((self.predict(X) == signs).mean())
