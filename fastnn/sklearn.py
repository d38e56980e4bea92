"""scikit-learn estimators trained by fastnn: ``MLPClassifier`` and ``MLPRegressor``.

They take scikit-learn's MLP parameters, with its names and defaults, and work in
``Pipeline``, ``GridSearchCV`` (n_jobs > 1 too: fitted estimators pickle) and the rest of
scikit-learn. fastnn adds ``backend``, ``dtype`` and ``n_threads``. Needs the extra
``sklearn`` (``pip install fastnn[sklearn]``).

How scikit-learn's objective maps onto fastnn's. For the same network, fastnn's loss is
a fixed multiple ``c`` of the objective scikit-learn descends: fastnn's squared error has
no 1/2 and averages over the k targets where scikit-learn's gradient sums them (c = 2/k);
multilabel log-loss is averaged over the k labels in fastnn and summed in scikit-learn
(c = 1/k); log-loss otherwise is the same (c = 1). scikit-learn adds
``alpha / 2 * ||W||² / n_b`` to each batch's mean loss, n_b being the batch's summed
sample weight. So every Dense layer gets the L2 penalty ``c * alpha / (2 * n_b)``
(``kernel_regularizer``), with n_b = batch size x mean sample weight, and sample weights
are rescaled to mean 1; SGD's learning rate is divided by c and Adam's epsilon
multiplied by c. Each step is then the step scikit-learn takes on the same batch (the
tests check this to rounding), and ``loss_curve_`` (fastnn's loss / c) is in
scikit-learn's units, which is where ``tol`` applies. Two differences remain:
scikit-learn divides the penalty by each batch's own size, so it penalises a short last
batch a little more; and for k > 1 regression targets its ``loss_curve_`` shows the
squared error averaged over the targets, a k-th of what its gradient descends, where
ours shows the descended objective. Initialisation differs too (Glorot uniform weights
and zero biases here; scikit-learn also draws the biases).

Not available: ``solver="lbfgs"`` (fastnn trains by mini-batches) and scikit-learn's
learning-rate schedules (``learning_rate``, ``power_t``): the rate is constant.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastnn.sklearn needs scikit-learn >= 1.6: pip install 'fastnn[sklearn]'"
    ) from error

from . import activations as activation_names
from . import backends
from . import validation as check
from .callbacks import Callback
from .layers import Dense
from .model import Model
from .optimizers import SGD, Adam
from .regularizers import L2
from .runtime import get_num_threads, set_num_threads

__all__ = ["MLPClassifier", "MLPRegressor"]

AUTO_BATCH = 200  # batch_size="auto" is min(200, n_samples), as in scikit-learn


class _BaseMLP(BaseEstimator):
    """What both estimators share: parameters, the fastnn Model, training, pickling."""

    # Set by the subclasses: the output activation, the fastnn loss, fastnn's loss
    # over scikit-learn's (c above), whether early stopping stratifies its split.
    _head: str
    _loss: str
    _loss_scale: float
    _stratify: bool

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size="auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state=None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        backend: str | None = None,
        dtype: str | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.dtype = dtype
        self.n_threads = n_threads

    # ------------------------------------------------------------ scikit-learn API

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for up to ``max_iter`` epochs; returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # accepted, and densified: the kernels are dense
        return tags

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, one (n_in, n_out) per layer, as scikit-learn's MLP has them."""
        check_is_fitted(self, "model_")
        return [layer.W.copy() for layer in self._dense_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "model_")
        return [layer.b.copy() for layer in self._dense_layers()]

    # ------------------------------------------------------------ training

    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = self._validate_xy(X, y, reset=first)
        targets = self._encode_targets(y, first, classes)
        weight = _sample_weight(sample_weight, X.shape[0])
        self._random_state = check_random_state(self.random_state)
        if first:
            self._start(X.shape[1], X.dtype)
        (X, targets, weight), validation = self._split_validation(X, targets, weight, y)
        batch = self._batch_size(X.shape[0])
        weight = self._apply_alpha(weight, batch)
        converged = self._train(X, targets, weight, batch, validation, incremental)
        if not incremental and not converged and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _train(self, X, targets, weight, batch: int, validation, incremental: bool) -> bool:
        """Epochs of fastnn's fit under scikit-learn's stopping rule; whether it converged."""
        rule = _StoppingRule(self, validation, X.shape[0])
        self.n_iter_ = 0
        with self._threads():
            self.model_.fit(
                X,
                targets,
                epochs=1 if incremental else self.max_iter,
                batch_size=batch,
                shuffle=self.shuffle,
                verbose=0,
                callbacks=[rule],
                sample_weight=weight,
            )
        if validation is not None and self._best_weights is not None:
            self.model_.set_weights(self._best_weights)
        return rule.converged

    def _start(self, n_features: int, input_dtype: np.dtype) -> None:
        """A fresh network and fresh training records."""
        dtype = self.dtype if self.dtype is not None else input_dtype
        layers = [Dense(units, self.activation) for units in self._hidden_sizes()]
        layers.append(Dense(self.n_outputs_, self._head))
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        model = Model(layers, input_dim=n_features, seed=seed, dtype=dtype, backend=self.backend)
        model.compile(loss=self._loss, optimizer=self._optimizer())
        self.model_ = model
        self.n_layers_ = len(layers) + 1
        self.out_activation_ = {"sigmoid": "logistic", "linear": "identity"}.get(
            self._head, self._head
        )
        self.loss_curve_: list[float] = []
        self.t_ = 0
        self._no_improvement_count = 0
        self._best_weights = None
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _optimizer(self):
        """The solver, set so that its steps are scikit-learn's on scikit-learn's loss."""
        scale = self._loss_scale
        if self.solver == "sgd":
            return SGD(
                lr=self.learning_rate_init / scale,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
            )
        return Adam(
            lr=self.learning_rate_init,
            beta1=self.beta_1,
            beta2=self.beta_2,
            eps=self.epsilon * scale,
        )

    def _apply_alpha(self, weight: np.ndarray | None, batch: int) -> np.ndarray | None:
        """Set each layer's L2 factor for scikit-learn's alpha and rescale the sample
        weights to mean 1 (see the module docstring); returns the weights to train with."""
        mean = 1.0 if weight is None else float(weight.mean())
        if mean == 0:
            raise ValueError("the sample_weight of the training rows sums to zero")
        l2 = self._loss_scale * self.alpha / (2 * batch * mean)
        layers = self._dense_layers()
        current = layers[0].kernel_regularizer
        if (current.l2 if current is not None else 0.0) != l2:
            for layer in layers:
                layer.kernel_regularizer = L2(l2) if l2 > 0 else None
        return None if weight is None else weight / mean

    def _split_validation(self, X, targets, weight, y):
        """((X, targets, weight) to train on, the held-out part or None), as
        scikit-learn splits for early stopping (stratified for single-label classes)."""
        if not self.early_stopping:
            return (X, targets, weight), None
        stratify = y if self._stratify else None
        arrays = [X, targets] + ([] if weight is None else [weight])
        parts = train_test_split(
            *arrays,
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        train, held = parts[0::2], parts[1::2]
        if held[0].shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the "
                "size of your dataset."
            )
        if weight is None:
            train, held = [*train, None], [*held, None]
        return tuple(train), tuple(held)

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(AUTO_BATCH, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to "
                "be clipped",
                stacklevel=4,
            )
        return min(int(self.batch_size), n_samples)

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """n_threads for the native kernels while fitting/predicting (a process-wide
        setting, restored afterwards)."""
        if self.n_threads is None or self.model_.backend != "native":
            yield
            return
        previous = get_num_threads()
        set_num_threads(self.n_threads)
        try:
            yield
        finally:
            set_num_threads(previous)

    # ------------------------------------------------------------ prediction

    def _outputs(self, X) -> np.ndarray:
        """The network's outputs for X (validated against what fit saw)."""
        check_is_fitted(self, "model_")
        X = self._validate_x(X, reset=False)
        with self._threads():
            return self.model_.predict(X)

    # ------------------------------------------------------------ input checks

    def _check_params(self) -> None:
        if self.solver == "lbfgs":
            raise ValueError(
                "solver='lbfgs' is not available in fastnn, which trains by mini-batches; "
                "use solver='adam' or 'sgd' (or sklearn.neural_network for L-BFGS)"
            )
        check.check_choice("solver", self.solver, ("adam", "sgd"))
        self._hidden_sizes()
        name = activation_names.get(self.activation).name  # ValueError for unknown names
        if name == "step":
            raise ValueError("activation='step' has no gradient; use 'relu', 'tanh', ...")
        check.check_float("alpha", self.alpha, 0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check.check_int("batch_size", self.batch_size, 1)
        check.check_float("learning_rate_init", self.learning_rate_init, 0.0, low_open=True)
        check.check_int("max_iter", self.max_iter, 1)
        check.check_float("tol", self.tol, 0.0)
        check.check_int("n_iter_no_change", self.n_iter_no_change, 1)
        check.check_float("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check.check_float("beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        check.check_float("beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        check.check_float("epsilon", self.epsilon, 0.0, low_open=True)
        check.check_float(
            "validation_fraction", self.validation_fraction, 0.0, 1.0, low_open=True, high_open=True
        )
        for flag in ("shuffle", "warm_start", "early_stopping", "nesterovs_momentum"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False; got {getattr(self, flag)!r}")
        if self.backend is not None:
            backends.check_name(self.backend)
        if self.dtype is not None:
            check.check_dtype(self.dtype)
        if self.n_threads is not None:
            check.check_int("n_threads", self.n_threads, 1)

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"hidden_layer_sizes must hold integers; got {sizes}")
        if any(s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _validate_x(self, X, reset: bool) -> np.ndarray:
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc", "coo"),
            dtype=self._input_dtypes(),
            reset=reset,
        )
        return _dense(X)

    def _validate_xy(self, X, y, reset: bool):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc", "coo"),
            multi_output=True,
            y_numeric=isinstance(self, RegressorMixin),
            dtype=self._input_dtypes(),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return _dense(X), y

    def _input_dtypes(self):
        """float32 input stays float32, anything else becomes float64 (as in
        scikit-learn), unless ``dtype`` fixes the network's precision."""
        return (np.float64, np.float32) if self.dtype is None else self.dtype

    def _dense_layers(self) -> list[Dense]:
        return [layer for layer in self.model_.layers if isinstance(layer, Dense)]


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier, trained by fastnn.

    Labels may be of any type (``classes_`` holds them sorted). Two classes use one
    logistic output, as in scikit-learn; more use a softmax head with cross-entropy; a
    2-D 0/1 indicator y (multilabel) uses one logistic output per label.
    """

    @property
    def _head(self) -> str:
        return {"multiclass": "softmax"}.get(self._target_kind, "sigmoid")

    @property
    def _loss(self) -> str:
        return "cross_entropy" if self._target_kind == "multiclass" else "binary_cross_entropy"

    @property
    def _loss_scale(self) -> float:
        return 1.0 / self.n_outputs_ if self._target_kind == "multilabel" else 1.0

    @property
    def _stratify(self) -> bool:
        return self._target_kind != "multilabel"

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). The first call needs ``classes``: every label that y
        will ever hold (unless y is a multilabel indicator matrix)."""
        multilabel = type_of_target(y) == "multilabel-indicator"
        if not hasattr(self, "model_") and classes is None and not multilabel:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (multilabel: a 0/1 row per sample)."""
        proba = self._outputs(X)
        if self._target_kind == "multilabel":
            return (proba > 0.5).astype(np.int64)
        if self._target_kind == "binary":
            return self.classes_[(proba[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[proba.argmax(axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes) in the order of ``classes_``."""
        proba = self._outputs(X)
        if self._target_kind == "binary":
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _encode_targets(self, y, first: bool, classes) -> np.ndarray:
        """y as the network's targets: class indices, a 0/1 column, or the indicator."""
        if first:
            self._learn_classes(y, classes)
        if self._target_kind == "multilabel":
            if y.ndim != 2 or y.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"y must be a multilabel indicator matrix with {self.n_outputs_} columns, "
                    f"as in the first fit; got shape {y.shape}"
                )
            return y.astype(np.float64)
        check_classification_targets(y)
        known = np.isin(y, self.classes_)
        if not known.all():
            raise ValueError(
                f"y holds labels not in classes_ {self.classes_.tolist()}: "
                f"{np.unique(y[~known]).tolist()}"
            )
        index = np.searchsorted(self.classes_, y)
        if self._target_kind == "binary":
            return (index == 1).astype(np.float64)
        return index.astype(np.int64)

    def _learn_classes(self, y, classes) -> None:
        if type_of_target(y) == "multilabel-indicator":
            self._target_kind = "multilabel"
            self.classes_ = np.arange(y.shape[1])
            self.n_outputs_ = y.shape[1]
            return
        check_classification_targets(y)
        self.classes_ = np.unique(y if classes is None else np.asarray(classes))
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; y has 1 class "
                f"({self.classes_.tolist()})"
            )
        self._target_kind = "binary" if self.classes_.size == 2 else "multiclass"
        self.n_outputs_ = 1 if self._target_kind == "binary" else self.classes_.size

    def _score_held_out(self, X, targets, weight) -> float:
        """Accuracy on the early-stopping split (targets encoded as in training)."""
        out = self.model_.predict(X)
        if self._target_kind == "multiclass":
            predicted = out.argmax(axis=1)
        else:
            predicted = (out > 0.5).astype(np.float64).reshape(targets.shape)
        return float(accuracy_score(targets, predicted, sample_weight=weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (squared error, identity output): scikit-learn's
    MLPRegressor, trained by fastnn. y may have several columns."""

    _head = "linear"
    _loss = "mse"
    _stratify = False

    @property
    def _loss_scale(self) -> float:
        # fastnn's mse has no 1/2 and averages over the targets; scikit-learn's
        # gradient is that of half the squared error summed over the targets.
        return 2.0 / self.n_outputs_

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predictions, (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._outputs(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def _encode_targets(self, y, first: bool, classes) -> np.ndarray:
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if first:
            self.n_outputs_ = n_outputs
        elif n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} target(s) but the network was fitted with {self.n_outputs_}"
            )
        return y.astype(np.float64).reshape(y.shape[0], n_outputs)

    def _score_held_out(self, X, targets, weight) -> float:
        """R² on the early-stopping split."""
        return float(r2_score(targets, self.model_.predict(X), sample_weight=weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may have several columns
        return tags


class _StoppingRule(Callback):
    """scikit-learn's per-epoch bookkeeping and stopping rule inside fastnn's fit.

    Records ``loss_curve_`` in scikit-learn's units; stops when the training loss (or,
    with early stopping, the held-out score) has not improved by ``tol`` for more than
    ``n_iter_no_change`` epochs in a row, keeping the best weights for early stopping.
    """

    def __init__(self, estimator: _BaseMLP, validation, n_samples: int) -> None:
        super().__init__()
        self.estimator = estimator
        self.validation = validation
        self.n_samples = n_samples
        self.converged = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        est = self.estimator
        loss = logs["loss"] / est._loss_scale
        est.loss_ = loss
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += self.n_samples
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        improved = self._held_out_improved() if self.validation else self._loss_improved(loss)
        est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
        if est._no_improvement_count > est.n_iter_no_change:
            self.converged = True
            self.model.stop_training = True
            if est.verbose:
                watched = "Validation score" if self.validation else "Training loss"
                print(
                    f"{watched} did not improve more than tol={est.tol:f} for "
                    f"{est.n_iter_no_change} consecutive epochs. Stopping."
                )

    def _loss_improved(self, loss: float) -> bool:
        est = self.estimator
        improved = loss <= est.best_loss_ - est.tol
        est.best_loss_ = min(est.best_loss_, loss)
        return improved

    def _held_out_improved(self) -> bool:
        est = self.estimator
        score = est._score_held_out(*self.validation)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        improved = score >= est.best_validation_score_ + est.tol
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_weights = self.model.get_weights()
        return improved


def _dense(X) -> np.ndarray:
    return X.toarray() if hasattr(X, "toarray") else X


def _sample_weight(sample_weight, n_samples: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real):
        return np.full(n_samples, float(sample_weight))
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per sample; "
            f"got {weight.shape}"
        )
    if not np.isfinite(weight).all() or weight.min() < 0:
        raise ValueError("sample_weight must hold finite numbers >= 0")
    if not weight.any():
        raise ValueError("sample_weight is all zero: nothing to learn from")
    return weight
