"""One learner's playground: the points, the network and its training, in plain fastnn.

A Session is what the page shows, without the page: settings in, training, and
JSON-ready pictures out (the output over a grid, every hidden neuron's output over a
coarser grid, the weights, the losses). It trains with fastnn's public API only
(``Model``, ``Dense`` with ``kernel_regularizer``, ``compile``, ``fit``, ``predict``,
``forward_trace``, ``get_weights``, ``save``), so what it does is what "show code" prints.

Not thread-safe: the server runs every call on one worker thread.
"""

from __future__ import annotations

import base64
import math
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import fastnn as fn
from fastnn import backends

from . import problems
from .code import python_code
from .config import DATA_FIELDS, NETWORK_FIELDS, Config, FieldError, changed_fields

OUTPUT_GRID = 64  # the big picture: 64 x 64 cells
NEURON_GRID = 20  # each neuron's thumbnail: 20 x 20 cells
MAX_HISTORY = 1000  # loss-curve points kept; past that every other one is dropped
FRAME_BUDGET = 0.040  # seconds of training per frame at most (keeps >= 10 frames/s)


def _pixels(values: np.ndarray) -> str:
    """Values in [-1, 1] (clipped; NaN as 0) as base64 bytes 0..255, for the page."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    levels = np.rint((np.clip(clean, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return base64.b64encode(levels.tobytes()).decode("ascii")


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def data_loss(problem: str, outputs: np.ndarray, targets: np.ndarray) -> float | None:
    """The loss the page reports: binary cross-entropy or mean squared error of the data,
    without the regularization penalty (as the TensorFlow Playground reports it)."""
    out = outputs[:, 0].astype(np.float64)
    y = targets.astype(np.float64)
    if problem == "classification":
        p = np.clip(out, 1e-12, 1 - 1e-12)
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    else:
        loss = np.mean((out - y) ** 2)
    return _finite_or_none(float(loss))


class LossHistory:
    """(epoch, training loss, test loss) per frame, at most `capacity` of them: when full,
    every other point is dropped, so the curve keeps its shape over any length of run."""

    def __init__(self, capacity: int = MAX_HISTORY) -> None:
        self.capacity = capacity
        self.points: list[tuple[int, float | None, float | None]] = []

    def add(self, epoch: int, train: float | None, test: float | None) -> None:
        if self.points and self.points[-1][0] == epoch:
            self.points[-1] = (epoch, train, test)
            return
        self.points.append((epoch, train, test))
        if len(self.points) > self.capacity:  # halve, keeping the first and the last
            kept = self.points[::2]
            if kept[-1] is not self.points[-1]:
                kept.append(self.points[-1])
            self.points = kept

    def clear(self) -> None:
        self.points = []


class Session:
    """The data, model and training of one playground page."""

    def __init__(self, config: Config) -> None:
        _check_backend(config.backend)
        self.config = config
        self.version = 0  # bumps whenever the points or the network's shape change
        self.model_seed = 0  # "reset" draws new initial weights: the next seed
        self.history = LossHistory()
        self.changed_while_training: set[str] = set()
        self.diverged: str | None = None
        self._seconds_per_epoch = 0.0
        self._output_grid = problems.grid(OUTPUT_GRID)
        self._neuron_grid = problems.grid(NEURON_GRID)
        self._new_data()
        self._new_model()

    # ------------------------------------------------------------ settings

    def apply(self, config: Config) -> frozenset[str]:
        """Take new settings: new data, a new network, or a change to the running one
        (learning rate, regularization rate, batch size, speed, backend). Returns the
        names of the settings that changed."""
        changed = changed_fields(self.config, config)
        if not changed:
            return changed
        _check_backend(config.backend)
        self.config = config
        if changed & DATA_FIELDS:
            self._new_data()
            self._new_model()
        elif changed & NETWORK_FIELDS:
            self._new_model()
        else:
            self._apply_live(changed)
        return changed

    def reset(self) -> None:
        """New initial weights (the next seed), epoch 0, an empty loss curve."""
        self.model_seed += 1
        self._new_model()

    def _apply_live(self, changed: frozenset[str]) -> None:
        if self.epoch > 0:
            self.changed_while_training |= changed & {
                "learning_rate",
                "regularization_rate",
                "batch_size",
                "backend",
            }
        self.diverged = None  # new settings may train where the old ones diverged
        model, config = self.model, self.config
        model.optimizer.lr = config.learning_rate
        regularizer = self._regularizer()
        for layer in model.layers:
            layer.kernel_regularizer = regularizer
        model.backend = config.backend

    def _new_data(self) -> None:
        config = self.config
        points, targets = problems.make_points(config.dataset, config.noise, config.seed)
        self.points_train, self.points_test, self.y_train, self.y_test = fn.data.train_test_split(
            points, targets, test_size=round(1 - config.train_ratio, 6), seed=config.seed
        )
        self.version += 1

    def _regularizer(self):
        config = self.config
        if config.regularization == "l1":
            return fn.regularizers.L1(config.regularization_rate)
        if config.regularization == "l2":
            return fn.regularizers.L2(config.regularization_rate)
        return None

    def _new_model(self) -> None:
        config = self.config
        regularizer = self._regularizer()
        head = "sigmoid" if config.problem == "classification" else "linear"
        layers = [
            fn.Dense(units, config.activation, kernel_regularizer=regularizer)
            for units in config.hidden
        ]
        layers.append(fn.Dense(1, head, kernel_regularizer=regularizer))
        model = fn.Model(
            layers, input_dim=len(config.features), seed=self.model_seed, backend=config.backend
        )
        optimizer = {"sgd": fn.optimizers.SGD, "adam": fn.optimizers.Adam}[config.optimizer]
        loss = "binary_cross_entropy" if config.problem == "classification" else "mse"
        model.compile(loss=loss, optimizer=optimizer(lr=config.learning_rate))
        self.model = model
        names = config.features
        self.X_train = problems.features(self.points_train, names)
        self.X_test = problems.features(self.points_test, names)
        self._output_inputs = problems.features(self._output_grid, names)
        self._neuron_inputs = problems.features(self._neuron_grid, names)
        self.history.clear()
        self.changed_while_training = set()
        self.diverged = None
        self._seconds_per_epoch = 0.0
        self.version += 1
        self._record_losses()

    # ------------------------------------------------------------ training

    @property
    def epoch(self) -> int:
        return self.model.epochs_trained

    def train(self, epochs: int) -> int:
        """Run `epochs` epochs of fit (fewer if training diverges: then ``diverged``
        holds fastnn's warning and the weights are the last finite ones). Returns the
        number of epochs run."""
        if self.diverged:
            return 0
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = self.model.fit(
                self.X_train,
                self.y_train,
                epochs=epochs,
                batch_size=self.config.batch_size,
                verbose=0,
            )
        ran = len(history.history.get("loss", []))
        if ran < epochs:
            messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
            self.diverged = messages[0] if messages else "training stopped early"
        if ran:
            seconds = (time.perf_counter() - started) / ran
            self._seconds_per_epoch = (
                seconds
                if not self._seconds_per_epoch
                else (0.7 * self._seconds_per_epoch + 0.3 * seconds)
            )
        self._record_losses()
        return ran

    def train_frame(self) -> int:
        """One frame's training while playing: ``train(epochs_for_frame())``."""
        return self.train(self.epochs_for_frame())

    def epochs_for_frame(self, budget: float = FRAME_BUDGET) -> int:
        """The speed setting's epochs per frame, fewer where they would take longer than
        ``budget`` seconds (as measured on the last frames)."""
        wanted = self.config.epochs_per_frame
        if self._seconds_per_epoch <= 0:
            return 1
        return max(1, min(wanted, int(budget / self._seconds_per_epoch)))

    def _record_losses(self) -> None:
        problem = self.config.problem
        self.train_loss = data_loss(problem, self.model.predict(self.X_train), self.y_train)
        self.test_loss = data_loss(problem, self.model.predict(self.X_test), self.y_test)
        self.history.add(self.epoch, self.train_loss, self.test_loss)

    # ------------------------------------------------------------ what the page draws

    def frame(self) -> dict:
        """The pictures and numbers of the network as it is now."""
        model = self.model
        output = model.predict(self._output_inputs)[:, 0]
        if self.config.problem == "classification":
            output = 2.0 * output - 1.0  # probability of class 1 -> [-1, 1]
        trace = model.forward_trace(self._neuron_inputs)[:-1]  # hidden layers only
        neurons = np.concatenate([layer.T.ravel() for layer in trace]) if trace else []
        weights = model.get_weights()
        return {
            "type": "frame",
            "version": self.version,
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "output": _pixels(output),
            "neurons": _pixels(neurons),
            "weights": [_rounded(w) for w in weights[0::2]],
            "biases": [_rounded(b) for b in weights[1::2]],
            "diverged": self.diverged,
        }

    def state(self) -> dict:
        """Everything the page needs to draw from scratch: settings, points, the input
        features' pictures, the loss curve so far, and the current frame."""
        inputs = problems.features(self._neuron_grid, tuple(problems.FEATURE_EXPRESSIONS))
        scale = np.abs(inputs).max(axis=0)
        pictures = inputs / np.where(scale > 0, scale, 1.0)
        names = tuple(problems.FEATURE_EXPRESSIONS)
        return {
            "type": "state",
            "version": self.version,
            "config": self.config.to_json(),
            "domain": problems.DOMAIN,
            "grids": {"output": OUTPUT_GRID, "neuron": NEURON_GRID},
            "train": _points(self.points_train, self.y_train),
            "test": _points(self.points_test, self.y_test),
            "feature_pictures": {name: _pixels(pictures[:, i]) for i, name in enumerate(names)},
            "history": [list(point) for point in self.history.points],
            "frame": self.frame(),
        }

    # ------------------------------------------------------------ taking it away

    def code(self) -> str:
        return python_code(
            self.config, self.epoch, self.model_seed, sorted(self.changed_while_training)
        )

    def model_file(self) -> bytes:
        """The trained model as a fastnn model file (``fn.load_model`` reads it)."""
        with tempfile.TemporaryDirectory(prefix="fastnn-playground-") as folder:
            path = Path(folder, "playground.fnn")
            self.model.save(path)
            return path.read_bytes()

    def nbytes(self) -> int:
        """Memory held by this session's arrays and loss curve (an upper-bound estimate:
        the model's parameters, gradients and up to two optimizer states)."""
        arrays = (
            self.points_train, self.points_test, self.y_train, self.y_test,
            self.X_train, self.X_test, self._output_grid, self._neuron_grid,
            self._output_inputs, self._neuron_inputs,
        )  # fmt: skip
        model = 4 * self.model.count_params() * self.model.dtype.itemsize
        return sum(a.nbytes for a in arrays) + model + 64 * len(self.history.points)


def _check_backend(name: str) -> None:
    if name == "native" and not backends.native_available():
        raise FieldError("backend", "the native backend is not built here; choose numpy")


def _rounded(array: np.ndarray) -> list:
    return np.round(np.nan_to_num(array.astype(np.float64)), 4).tolist()


def _points(points: np.ndarray, targets: np.ndarray) -> list:
    rows = np.column_stack([points.astype(np.float64), targets.astype(np.float64)])
    return np.round(rows, 3).tolist()
