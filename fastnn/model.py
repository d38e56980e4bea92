"""Model: a stack of layers with one flat parameter buffer, trained through a backend.

The Model holds configuration and state (layers, parameters, optimizer, random
streams) and validates what users hand it; the arithmetic happens in the backend
(fastnn.backends), one call per whole-network operation. The training loop itself lives
in fastnn.training.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Callable

import numpy as np

from . import backends, losses, metrics, optimizers
from . import precision as mixed_precision
from . import validation as check
from .backends.spec import Act, LayerKind, Metric, NetSpec, TrainingBuffers
from .layers import Dense, Layer

# Rows per forward pass in evaluate/forward_trace: big enough to amortise calls, small
# enough to keep activations in cache.
EVAL_BATCH = 1024


class Model:
    """A feed-forward network: ``Model([Dense(64, "relu"), Dense(10, "softmax")])``.

    layers: fn.Dense and fn.Dropout layers, input to output; the last is Dense.
    input_dim: features per sample; None fixes it from X at the first fit (or predict).
    seed: initialization, shuffling and Dropout all flow from it (None: a fresh one).
    dtype: "float32" (the default) or "float64", for the weights and the arithmetic.
    backend: "native" (the C kernels) or "numpy" (the reference); None follows
        fn.set_backend.
    precision: "float32" (the default), or "bf16" (Keras's "mixed_bfloat16" too): every
        matrix product with bfloat16 inputs and float32 sums, as
        ``torch.autocast("cpu", dtype=torch.bfloat16)``; weights, optimizer state,
        activations and loss stay float32 (fastnn.precision). Float32 models only.

    Then ``compile(loss, optimizer, metrics)``, ``fit``, ``evaluate``, ``predict``.
    """

    def __init__(
        self,
        layers: Sequence[Layer] | None = None,
        input_dim: int | None = None,
        seed: int | None = None,
        dtype: str = "float32",
        backend: str | None = None,
        name: str | None = None,
        precision: str = "float32",
    ) -> None:
        self._dtype = check.check_dtype(dtype)
        self._precision = mixed_precision.check_precision(precision, self._dtype)
        self._backend_name = None if backend is None else backends.check_name(backend)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.seed = check.check_int("seed", seed, 0)
        self.name = name or "model"
        self._init_random_state()
        self.layers: list[Layer] = []
        self._params: np.ndarray | None = None
        self._grads: np.ndarray | None = None
        self._input_dim: int | None = None
        self._net: NetSpec | None = None
        self._session = None  # (what it was made for, the training session): see below
        self.loss: losses.LossFunction | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.metrics: list[str] = []
        self.history = None
        self.stop_training = False
        self.epochs_trained = 0  # epochs over the model's life (schedules count these)
        self.steps_trained = 0  # batches over the model's life (Dropout's counter)
        if layers is not None:
            if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
                raise TypeError("layers must be a list of fn.Dense / fn.Dropout layers")
            for layer in layers:
                self.add(layer)
        if input_dim is not None:
            self.build(input_dim)

    def _init_random_state(self) -> None:
        """Independent streams for initialisation, shuffling and Dropout, all from seed."""
        init, shuffle, dropout = np.random.SeedSequence(self.seed).spawn(3)
        self._init_rng = np.random.default_rng(init)
        self._shuffle_rng = np.random.default_rng(shuffle)
        self.dropout_seed = int(dropout.generate_state(1, np.uint64)[0])

    # ------------------------------------------------------------ structure

    def add(self, layer: Layer) -> None:
        """Append a layer (after a build, the model is rebuilt keeping existing weights)."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"add() takes a fn.Dense or fn.Dropout layer; got {type(layer).__name__}"
            )
        if layer._owner is not None:
            raise ValueError(
                f"layer {layer.name!r} already belongs to a model; layers are not shared. "
                "Use layer.copy() for an independent layer with the same weights"
            )
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(f"the model already has a layer named {layer.name!r}")
        self.layers.append(layer)
        if self.built:
            self.build(self._input_dim)

    def pop(self) -> Layer:
        """Remove and return the last layer (it keeps a copy of its weights)."""
        if not self.layers:
            raise ValueError("pop() on a model with no layers")
        layer = self.layers.pop()
        layer._unbind()
        if self.built:
            if self.layers:
                self.build(self._input_dim)
            else:
                self._params = self._grads = self._net = None
                self._input_dim = None
        return layer

    @property
    def built(self) -> bool:
        """Whether the weights exist (the input size is known)."""
        return self._params is not None

    def build(self, input_dim: int) -> None:
        """Fix the input size and lay every parameter out in one flat buffer."""
        input_dim = check.check_int("input_dim", input_dim, 1)
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("the model has no Dense layer; add one with model.add(fn.Dense(...))")
        if not isinstance(self.layers[-1], Dense):
            raise ValueError(
                f"the last layer must be Dense (the output); got {type(self.layers[-1]).__name__}"
            )
        n_in, total = input_dim, 0
        for layer in self.layers:
            total += layer.n_params(n_in)
            n_in = layer.output_dim(n_in)
        flat = np.zeros(total, dtype=self._dtype)
        n_in, offset = input_dim, 0
        for layer in self.layers:
            layer._bind(self, flat, n_in, offset, self._init_rng)
            offset += layer.n_params(n_in)
            n_in = layer.output_dim(n_in)
        self._params = flat
        self._grads = np.zeros_like(flat)
        self._input_dim = input_dim
        self._invalidate()
        if self.optimizer is not None:
            self.optimizer.build(total, self._dtype)

    def _invalidate(self) -> None:
        """Forget the cached network description and session (structure changed)."""
        self._net = None
        self._session = None

    def net(self) -> NetSpec:
        """The kernel-side description of the network (cached; a layer's change of
        configuration or a change of structure invalidates it)."""
        if not self.built:
            raise RuntimeError("the model is not built yet: give input_dim or call fit first")
        if self._net is None:
            specs, n_in, offset = [], self._input_dim, 0
            products = mixed_precision.code(self._precision)
            for layer in self.layers:
                spec = layer.spec(n_in, offset)
                if spec.kind == LayerKind.DENSE:
                    spec = dataclasses.replace(spec, precision=products)
                specs.append(spec)
                offset += layer.n_params(n_in)
                n_in = layer.output_dim(n_in)
            self._net = NetSpec(tuple(specs), offset, self._dtype)
            self._session = None
        return self._net

    # ------------------------------------------------------------ properties

    @property
    def dtype(self) -> np.dtype:
        """The floating-point type of the weights and the arithmetic."""
        return self._dtype

    @property
    def precision(self) -> str:
        """The matrix products' precision: "float32", or "bf16" (bfloat16 inputs, float32
        sums; fastnn.precision). Settable at any time, e.g. to predict in bf16 after
        training in float32; the weights stay float32 either way."""
        return self._precision

    @precision.setter
    def precision(self, value: str | None) -> None:
        self._precision = mixed_precision.check_precision(value, self._dtype)
        self._invalidate()

    @property
    def input_dim(self) -> int | None:
        """Features per sample (None until the first fit when not given)."""
        return self._input_dim

    @property
    def output_dim(self) -> int | None:
        """Units of the last Dense layer (outputs per sample)."""
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        return dense[-1].units if dense else None

    @property
    def backend(self) -> str:
        """The backend's name: the model's own, or the current default."""
        return self._backend_name or backends.default_name()

    @backend.setter
    def backend(self, name: str | None) -> None:
        self._backend_name = None if name is None else backends.check_name(name)
        self._session = None

    def backend_impl(self):
        """The backend object this model runs on (fastnn.backends)."""
        return backends.resolve(self._backend_name)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter buffer (every W and b is a view into it)."""
        if self._params is None:
            raise RuntimeError("the model is not built yet: give input_dim or call fit first")
        return self._params

    def count_params(self) -> int:
        """Number of weights and biases (0 before the model is built)."""
        return 0 if self._params is None else int(self._params.size)

    # ------------------------------------------------------------ compile / fit

    def compile(
        self,
        loss: losses.LossLike = "mse",
        optimizer: optimizers.OptimizerLike = "adam",
        metrics: Sequence[str] | None = None,
    ) -> None:
        """Choose the loss, the optimizer and the metrics fit and evaluate report."""
        self.loss = losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, str):
            metrics = [metrics]
        self.metrics = list(dict.fromkeys(_metric_name(m) for m in metrics))
        if self.layers and isinstance(self.layers[-1], Dense):
            last = self.layers[-1].activation
            self.loss.check_head(last.code, last.name)
        if self.built:
            self.optimizer.build(self._params.size, self._dtype)

    def fit(self, X, y, epochs: int = 1, batch_size: int = 32, **options):
        """Train on X (n_samples, n_features) and y; returns a History (also kept as
        ``model.history``): ``history.history["loss"]``, ``["val_accuracy"]``, ...

        y: integer class labels (n,) or one-hot rows for cross_entropy; 0/1 (or
            probabilities) for binary_cross_entropy; targets (n,) or (n, outputs) else.
        epochs: passes over the training rows; batch_size: rows per step.
        options (fastnn.training.fit describes each): validation_split,
            validation_data=(X_val, y_val), shuffle=True, verbose=1 (0 silent, 2 a line
            per epoch), callbacks=[...], target_loss, sample_weight, initial_epoch.

        Ctrl-C stops at the next batch boundary with a warning and a usable model.
        """
        from .training import fit

        return fit(self, X, y, epochs=epochs, batch_size=batch_size, **options)

    def training_session(self, batch_size: int):
        """The backend's training session (fastnn.backends.base.TrainingSession) for
        batches of up to ``batch_size`` rows, bound to this model: its parameters,
        gradients and optimizer state (in place), its loss, optimizer rule and metrics,
        and its Dropout seed. fit trains through it; so can you::

            session = model.training_session(64)
            session.bind_data(X, y)                       # validated arrays
            loss = session.train_step(rows, lr, t, model.steps_trained)

        (t counts the optimizer's steps from 1; fit also advances
        model.optimizer.iterations and model.steps_trained). The model keeps the session
        while all of that stays the same, so that every fit with this batch size reuses
        its buffers; a change of structure, backend, loss, optimizer or metrics makes a
        new one.
        """
        self._require_compiled()
        if not self.built:
            raise RuntimeError("the model is not built yet: give input_dim or call fit first")
        batch = check.check_int("batch_size", batch_size, 1)
        net = self.net()
        self.optimizer.build(self._params.size, self._dtype)
        states = tuple(self.optimizer.states)
        backend = self.backend_impl()
        made_for = (
            backend,
            net,
            batch,
            self.loss.spec,
            self.optimizer.step_spec(),
            self.metric_codes(),
            self.dropout_seed,
        )
        if self._session is not None:
            key, session = self._session
            same_buffers = session.params is self._params and session.grads is self._grads
            same_states = len(session.states) == len(states) and all(
                a is b for a, b in zip(session.states, states)
            )
            if key == made_for and same_buffers and same_states:
                return session
        self._session = None  # its buffers go before the new one's are made
        session = backend.session(
            net,
            self.loss.spec,
            made_for[4],
            TrainingBuffers(self._params, self._grads, states),
            batch,
            made_for[5],
            dropout_seed=self.dropout_seed,
        )
        self._session = (made_for, session)
        return session

    def metric_codes(self) -> tuple[Metric, ...]:
        """The backend's codes of the compiled metrics, in order (accuracy depends on the
        head: see metrics.code)."""
        binary = self.binary_outputs()
        return tuple(metrics.code(name, binary) for name in self.metrics)

    def _require_compiled(self) -> None:
        if self.loss is None or self.optimizer is None:
            raise RuntimeError(
                "the model is not compiled: call model.compile(loss=..., optimizer=...) first"
            )

    # ------------------------------------------------------------ inputs

    def prepare_features(self, X, name: str = "X") -> np.ndarray:
        """X validated and converted; builds the model from X's width on first use."""
        X = check.as_features(name, X, self._input_dim, self._dtype)
        if not self.built:
            self.build(X.shape[1])
        return X

    def _inference_features(self, X, caller: str) -> np.ndarray:
        """prepare_features for predict/evaluate/forward_trace, which warn when they are
        what builds the model: its weights are then the random initial ones, most likely
        because fit was forgotten (with input_dim given, an untrained model is taken to
        be meant, e.g. for weights set by hand)."""
        built = self.built
        X = self.prepare_features(X)
        if not built:
            warnings.warn(
                f"{caller}() on a model that was never trained: it was built just now for "
                f"X's {X.shape[1]} features, so it answers with its random initial "
                f"weights. Call fit first (to use an untrained network on purpose, give "
                f"Model(..., input_dim={X.shape[1]}))",
                UserWarning,
                stacklevel=_caller_outside_fastnn(),
            )
        return X

    def prepare_targets(self, y, n_samples: int, name: str = "y") -> np.ndarray:
        """y validated and converted for the compiled loss (labels or a matrix)."""
        self._require_compiled()
        last = self.layers[-1].activation
        self.loss.check_head(last.code, last.name)
        return check.as_targets(name, y, self.loss.code, self.output_dim, n_samples, self._dtype)

    def binary_outputs(self) -> bool:
        """Whether accuracy thresholds each output (one unit or sigmoid outputs)."""
        return self.output_dim == 1 or self.layers[-1].activation.code == Act.SIGMOID

    # ------------------------------------------------------------ inference

    def predict(self, X, batch_size: int | None = None) -> np.ndarray:
        """Outputs for every row of X (probabilities for softmax/sigmoid heads).
        Safe to call from several threads at once."""
        backend = self.backend_impl()
        finite = not backend.predict_checks_finite
        if not check.is_ready_features(X, self._input_dim, self._dtype, finite):
            X = self._inference_features(X, "predict")  # converts, or raises naming what is wrong
        return backend.predict(self.net(), self._params, X)

    def predict_classes(self, X) -> np.ndarray:
        """Class labels: argmax of the outputs, or output > 0.5 for a single unit."""
        out = self.predict(X)
        if out.shape[1] == 1:
            return (out[:, 0] > 0.5).astype(np.int64)
        return out.argmax(axis=1)

    def evaluate(
        self, X, y, batch_size: int | None = None, sample_weight=None, verbose: int = 0
    ) -> dict:
        """{"loss": mean loss, metric: value, ...} as Python floats."""
        X = self._inference_features(X, "evaluate")
        y = self.prepare_targets(y, X.shape[0])
        weight = check.as_sample_weight("sample_weight", sample_weight, X.shape[0], self._dtype)
        batch = EVAL_BATCH if batch_size is None else check.check_int("batch_size", batch_size, 1)
        logs = self.evaluate_arrays(X, y, weight, batch)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def evaluate_arrays(self, X, y, weight, batch: int = EVAL_BATCH) -> dict:
        """evaluate() on already validated arrays (fit's validation uses it)."""
        backend, net = self.backend_impl(), self.net()
        batch = min(batch, X.shape[0])
        ws = backend.workspace(net, batch)  # per call: concurrent evaluates share nothing
        spec, codes = self.loss.spec, self.metric_codes()
        loss_sum, sums = 0.0, dict.fromkeys(self.metrics, 0.0)
        for start in range(0, X.shape[0], batch):
            xb, yb = X[start : start + batch], y[start : start + batch]
            wb = None if weight is None else weight[start : start + batch]
            out = backend.forward(net, self._params, xb, ws, False, self.dropout_seed, 0)
            loss_sum += backend.loss_grad(net, spec, self._params, ws, yb, wb) * xb.shape[0]
            for name, code in zip(self.metrics, codes):
                sums[name] += backend.metric_sum(code, out, yb)
        n = X.shape[0]
        return {"loss": loss_sum / n, **{name: total / n for name, total in sums.items()}}

    # ------------------------------------------------------------ inspection

    def forward_trace(self, X) -> list[np.ndarray]:
        """Every layer's output for X (Dropout off): a look inside the hidden layers."""
        X = self._inference_features(X, "forward_trace")
        backend, net = self.backend_impl(), self.net()
        ws = backend.workspace(net, X.shape[0])
        backend.forward(net, self._params, X, ws, False, self.dropout_seed, 0)
        return [ws.acts[i][: X.shape[0]].copy() for i in range(len(net.layers))]

    def gradients(self, X, y, sample_weight=None) -> list[np.ndarray]:
        """Gradients of the loss at (X, y) with respect to get_weights()'s arrays, in the
        same order (training mode: Dropout active with the masks of the next step)."""
        X, y, weight = self._loss_inputs(X, y, sample_weight)
        backend, net = self.backend_impl(), self.net()
        grads = np.zeros_like(self._params)
        ws = self.loss_at(X, y, weight, backend=backend, keep=True)
        backend.backward(net, self._params, grads, ws, X)
        return self._split(grads)

    def _loss_inputs(self, X, y, sample_weight):
        X = self.prepare_features(X)
        y = self.prepare_targets(y, X.shape[0])
        weight = check.as_sample_weight("sample_weight", sample_weight, X.shape[0], self._dtype)
        return X, y, weight

    def loss_at(self, X, y, weight=None, backend=None, keep: bool = False):
        """The training loss on validated arrays at the current parameters (the quantity
        ``gradients`` differentiates); with ``keep`` returns the workspace instead."""
        backend, net = backend or self.backend_impl(), self.net()
        ws = backend.workspace(net, X.shape[0])
        backend.forward(net, self._params, X, ws, True, self.dropout_seed, self.steps_trained)
        loss = backend.loss_grad(net, self.loss.spec, self._params, ws, y, weight)
        return ws if keep else loss

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        """Per-layer arrays of a flat buffer, in get_weights() order."""
        out = []
        for spec in self.net().layers:
            if spec.kind != LayerKind.DENSE:
                continue
            n_w = spec.n_in * spec.n_out
            out.append(
                flat[spec.w_offset : spec.w_offset + n_w].reshape(spec.n_in, spec.n_out).copy()
            )
            if spec.b_offset >= 0:
                out.append(flat[spec.b_offset : spec.b_offset + spec.n_out].copy())
        return out

    # ------------------------------------------------------------ weights

    def get_weights(self) -> list[np.ndarray]:
        """Copies of [W1, b1, W2, b2, ...] (b omitted for layers without bias)."""
        return self._split(self.params)

    def set_weights(self, weights: Sequence) -> None:
        """Assign [W1, b1, W2, b2, ...] in get_weights()'s order and shapes."""
        current = self.get_weights()
        if not isinstance(weights, (list, tuple)) or len(weights) != len(current):
            count = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise ValueError(
                f"set_weights expects a list of {len(current)} arrays (W and b per Dense "
                f"layer, as get_weights returns); got {count}"
            )
        arrays = []
        for i, (value, like) in enumerate(zip(weights, current)):
            array = np.asarray(value, dtype=np.float64)
            if array.shape != like.shape:
                raise ValueError(f"weights[{i}] must have shape {like.shape}; got {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"weights[{i}] contains NaN or inf; expected finite numbers")
            arrays.append(array)
        views = iter(arrays)
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.W[...] = next(views)
                if layer.use_bias:
                    layer.b[...] = next(views)

    # ------------------------------------------------------------ reporting

    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        """Print layers, output shapes and parameter counts."""
        rows = [("Layer (type)", "Output shape", "Activation", "Params")]
        n_in = self._input_dim
        trainable = frozen = 0
        for layer in self.layers:
            out = (
                layer.output_dim(n_in)
                if n_in is not None
                else (layer.units if isinstance(layer, Dense) else "?")
            )
            count = layer.n_params(n_in) if n_in is not None else 0
            if layer.trainable:
                trainable += count
            else:
                frozen += count
            activation = layer.activation.name if isinstance(layer, Dense) else "-"
            kind = type(layer).__name__ + ("" if layer.trainable else ", frozen")
            rows.append(
                (
                    f"{layer.name} ({kind})",
                    f"(None, {out})",
                    activation,
                    f"{count:,}" if n_in is not None else "?",
                )
            )
            n_in = out if isinstance(out, int) else None
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        print_fn(
            f'Model "{self.name}"  (input_dim={self._input_dim}, dtype={self._dtype}, '
            f"precision={self._precision}, backend={self.backend})"
        )
        print_fn(line)
        for i, row in enumerate(rows):
            print_fn("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
            if i == 0:
                print_fn(line)
        print_fn(line)
        if self._input_dim is None:  # the first layer's weights are not counted yet
            print_fn(
                "Total params: unknown (the input size is not known yet: give "
                "Model(..., input_dim=n) or call fit)"
            )
            return
        print_fn(
            f"Total params: {trainable + frozen:,}  (trainable {trainable:,}, "
            f"non-trainable {frozen:,})"
        )

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        extra = "" if self._precision == "float32" else f", precision='{self._precision}'"
        return f"Model([{layers}], input_dim={self._input_dim}, dtype='{self._dtype}'{extra})"

    # ------------------------------------------------------------ persistence

    def save(self, path) -> None:
        """Save config, weights, optimizer state and random state (atomically)."""
        from .io import save_model

        save_model(self, path)

    def to_onnx(self, path, **options):
        """Write the network as a standard ONNX graph (extra ``onnx``) and return the
        ModelProto; ``options``: opset, input_name, output_name (fastnn.onnx_export)."""
        from .onnx_export import to_onnx

        return to_onnx(self, path, **options)

    def __reduce__(self):
        """Pickle as fastnn's own model file: the layers' weights are views into one
        buffer, which pickle's object-by-object copy would tear apart."""
        from .io import model_from_bytes, model_from_config, model_to_bytes

        if self.built:
            return (model_from_bytes, (model_to_bytes(self),))
        return (model_from_config, (self.get_config(),))

    def get_config(self) -> dict:
        """The model's configuration as plain data (what a saved file records)."""
        return {
            "name": self.name,
            "input_dim": self._input_dim,
            "dtype": str(self._dtype),
            "precision": self._precision,
            "seed": self.seed,
            "backend": self._backend_name,
            "layers": [layer.get_config() for layer in self.layers],
            "loss": self.loss.get_config() if self.loss else None,
            "optimizer": self.optimizer.get_config() if self.optimizer else None,
            "metrics": self.metrics,
        }


def _caller_outside_fastnn() -> int:
    """The warnings stacklevel of the innermost caller outside the fastnn package (a
    warning about the user's call should point at the user's line)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _metric_name(metric) -> str:
    return metrics.canonical_name(metric)
