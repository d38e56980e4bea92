"""scikit-learn's MLPClassifier: one epoch is one ``partial_fit`` over the training rows
(mini-batches of ``batch_size``, reshuffled), no L2 penalty, float32 kept as float32."""

from __future__ import annotations

import numpy as np

from . import Peer, Unavailable

try:
    import sklearn
    from sklearn.neural_network import MLPClassifier
except ImportError as error:
    raise Unavailable(f"{error} (pip install scikit-learn)") from None


class SklearnPeer(Peer):
    def __init__(self, threads: int) -> None:
        pass  # its products are NumPy's: OpenBLAS's threads are limited by the worker

    def versions(self) -> dict:
        return {"sklearn": sklearn.__version__}

    def _classifier(self, weights, optimizer, batch: int) -> MLPClassifier:
        options = {"solver": "adam", "epsilon": 1e-7, "beta_1": 0.9, "beta_2": 0.999}
        if optimizer is not None and optimizer.name == "sgd":
            options = {"solver": "sgd", "momentum": optimizer.momentum, "nesterovs_momentum": False}
        clf = MLPClassifier(
            hidden_layer_sizes=[w.shape[1] for w in weights[:-2:2]],
            activation="relu",
            alpha=0.0,
            batch_size=batch,
            learning_rate_init=optimizer.lr if optimizer is not None else 1e-3,
            shuffle=True,
            random_state=0,
            **options,
        )
        # Initialise on one row, then start from the shared weights (a fresh optimizer:
        # sklearn makes one when `_optimizer` is absent).
        n_in, n_classes = weights[0].shape[0], weights[-1].shape[0]
        x0 = np.zeros((n_classes, n_in), np.float32)
        clf.partial_fit(x0, np.arange(n_classes), classes=np.arange(n_classes))
        clf.coefs_ = [w.copy() for w in weights[::2]]
        clf.intercepts_ = [b.copy() for b in weights[1::2]]
        if hasattr(clf, "_optimizer"):
            del clf._optimizer
        return clf

    def trainer(self, weights, optimizer, batch: int):
        clf = self._classifier(weights, optimizer, batch)

        def epoch(X: np.ndarray, y: np.ndarray):
            clf.partial_fit(X, y)
            return None, float(clf.loss_)

        return epoch

    def predictor(self, weights):
        return self._classifier(weights, None, 1).predict_proba
