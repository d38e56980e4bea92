"""Layers: configuration plus views into their model's flat parameter buffer.

A Dense layer's ``W`` (n_in x units) and ``b`` (units) are NumPy views into the one
buffer that holds every parameter of the model, so the optimizer updates them all in
one pass. Reading ``layer.W`` gives the live view; assigning ``layer.W = array`` copies
into it (checking shape and finiteness). Before the model is built (input size unknown),
an assigned value is kept and copied in at build time.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import activations, initializers, regularizers
from .backends.spec import Act, LayerKind, LayerSpec

_counter = itertools.count(1)


class Layer:
    """Base class: a name, a trainable flag, and the model it belongs to."""

    kind: LayerKind

    def __init__(self, name: str | None = None, trainable: bool = True) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None; got {type(name).__name__}")
        self.name = name or f"{type(self).__name__.lower()}_{next(_counter)}"
        self.trainable = trainable
        self._owner = None  # the Model this layer is built into

    def __setattr__(self, name: str, value) -> None:
        # A change of configuration (trainable, activation, regularizer, ...) after the
        # layer joined a model must reach the model's cached kernel-side description.
        super().__setattr__(name, value)
        owner = self.__dict__.get("_owner")
        if owner is not None and not name.startswith("_"):
            owner._invalidate()

    @property
    def trainable(self) -> bool:
        """Whether fit updates this layer's weights (False freezes them)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"trainable must be True or False; got {value!r}")
        self._trainable = bool(value)

    @property
    def built(self) -> bool:
        """Whether the layer belongs to a built model (its weights exist)."""
        return self._owner is not None

    def output_dim(self, n_in: int) -> int:
        """Outputs per sample for n_in inputs."""
        return n_in

    def n_params(self, n_in: int) -> int:
        """Weights and biases for n_in inputs."""
        return 0

    def spec(self, n_in: int, offset: int) -> LayerSpec:
        """The layer as the kernels see it (fastnn.backends.spec)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The layer's configuration as plain data (what a saved file records)."""
        raise NotImplementedError

    def copy(self) -> Layer:
        """An unbuilt layer with the same configuration (and weights, where it has some)."""
        return from_config(self.get_config())

    # The Model calls these two; they are not part of the user API.
    def _bind(self, owner, flat: np.ndarray, n_in: int, offset: int, rng) -> None:
        self._owner = owner

    def _unbind(self) -> None:
        self._owner = None


class Dense(Layer):
    """A fully connected layer: a = activation(x @ W + b).

    units: outputs of the layer.
    activation: a name (linear, relu, leaky_relu, sigmoid, tanh, softmax, elu, gelu,
        softplus, step), an fn.activations object such as LeakyReLU(alpha), or None
        (linear).
    use_bias: whether the layer adds b.
    kernel_initializer, bias_initializer: names (glorot_uniform, glorot_normal,
        he_uniform, he_normal, lecun_normal, lecun_uniform, zeros, ones) or
        fn.initializers objects such as normal(std).
    kernel_regularizer: None, "l1", "l2", "l1_l2" (factor 0.01) or
        fn.regularizers.L2(factor) and the like: a penalty on W added to the loss.
    trainable: False freezes W and b (transfer learning).

    The input size comes from the layer before, or from the Model's input_dim. After
    the model is built, ``W`` (inputs x units) and ``b`` are live NumPy views of the
    weights; assigning to them copies the values in.
    """

    kind = LayerKind.DENSE

    def __init__(
        self,
        units: int,
        activation: activations.ActivationLike = None,
        use_bias: bool = True,
        kernel_initializer: initializers.InitializerLike = "glorot_uniform",
        bias_initializer: initializers.InitializerLike = "zeros",
        kernel_regularizer: regularizers.RegularizerLike = None,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense units must be an integer >= 1; got {units!r}")
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be True or False; got {use_bias!r}")
        super().__init__(name, trainable)
        self.units = int(units)
        self.activation = activations.get(activation)
        if self.units == 1 and self.activation.code == Act.SOFTMAX:
            raise ValueError(
                "Dense(1, activation='softmax') always outputs 1 (softmax normalizes over "
                "the layer's units), so it cannot learn; for one output use "
                "Dense(1, activation='sigmoid') with loss='binary_cross_entropy', or give "
                "softmax two or more units"
            )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self._W: np.ndarray | None = None
        self._b: np.ndarray | None = None
        self._pending: dict[str, np.ndarray] = {}

    # ---- shapes and the kernel-side description
    def output_dim(self, n_in: int) -> int:
        """Outputs per sample for n_in inputs: the units."""
        return self.units

    def n_params(self, n_in: int) -> int:
        """Weights and biases for n_in inputs."""
        return n_in * self.units + (self.units if self.use_bias else 0)

    def spec(self, n_in: int, offset: int) -> LayerSpec:
        """The layer as the kernels see it (fastnn.backends.spec)."""
        reg = self.kernel_regularizer
        return LayerSpec(
            kind=LayerKind.DENSE,
            n_in=n_in,
            n_out=self.units,
            act=self.activation.code,
            act_param=self.activation.param,
            w_offset=offset,
            b_offset=offset + n_in * self.units if self.use_bias else -1,
            l1=reg.l1 if reg else 0.0,
            l2=reg.l2 if reg else 0.0,
            trainable=self.trainable,
        )

    # ---- the weights
    @property
    def W(self) -> np.ndarray:
        """The weights, shape (inputs, units): a live view; assign to set them."""
        if self._W is None:
            if "W" in self._pending:
                return self._pending["W"]
            raise RuntimeError(
                f"layer {self.name!r} has no weights yet: its input size is unknown until "
                "the model is built (give Model(..., input_dim=n) or call fit/predict)"
            )
        return self._W

    @W.setter
    def W(self, value) -> None:
        self._assign("W", value, self._W)

    @property
    def b(self) -> np.ndarray | None:
        """The biases, shape (units,) (None without use_bias): a live view; assign to
        set them."""
        if not self.use_bias:
            return None
        if self._b is None:
            if "b" in self._pending:
                return self._pending["b"]
            raise RuntimeError(f"layer {self.name!r} has no weights yet (model not built)")
        return self._b

    @b.setter
    def b(self, value) -> None:
        if not self.use_bias:
            raise ValueError(f"layer {self.name!r} was built with use_bias=False: it has no b")
        self._assign("b", value, self._b)

    def _assign(self, which: str, value, target: np.ndarray | None) -> None:
        array = _finite_array(f"{self.name}.{which}", value)
        if target is None:  # not built: keep it for the build, where its shape is checked
            expected = (self.units,) if which == "b" else None
            if expected and array.reshape(-1).shape != expected:
                raise ValueError(f"{self.name}.b must have shape {expected}; got {array.shape}")
            self._pending[which] = array.reshape(expected) if expected else array
            return
        if which == "b":
            array = array.reshape(-1) if array.size == target.size else array
        if array.shape != target.shape:
            raise ValueError(
                f"{self.name}.{which} must have shape {target.shape}; got {array.shape}"
            )
        np.copyto(target, array, casting="unsafe")

    def get_weights(self) -> list[np.ndarray]:
        """Copies of [W, b] ([W] without use_bias)."""
        return [self.W.copy()] + ([self.b.copy()] if self.use_bias else [])

    def _bind(self, owner, flat: np.ndarray, n_in: int, offset: int, rng) -> None:
        """Point W and b into ``flat``; initialise them (or copy pending/old values)."""
        old = {"W": self._W, "b": self._b}
        n_w = n_in * self.units
        self._W = flat[offset : offset + n_w].reshape(n_in, self.units)
        self._b = flat[offset + n_w : offset + n_w + self.units] if self.use_bias else None
        for which, target in (("W", self._W), ("b", self._b)):
            if target is None:
                continue
            source = self._pending.pop(which, None)
            if source is None and old[which] is not None and old[which].shape == target.shape:
                source = old[which]
            if source is None:
                init = self.kernel_initializer if which == "W" else self.bias_initializer
                source = init(target.shape, rng, np.float64)
            if np.shape(source) != target.shape:
                raise ValueError(
                    f"{self.name}.{which} was given shape {np.shape(source)} but the layer "
                    f"needs {target.shape} (input size {n_in}, units {self.units})"
                )
            np.copyto(target, source, casting="unsafe")
        super()._bind(owner, flat, n_in, offset, rng)

    def _unbind(self) -> None:
        """Keep private copies of the weights when leaving a model."""
        if self._W is not None:
            self._pending["W"] = self._W.copy()
        if self._b is not None:
            self._pending["b"] = self._b.copy()
        self._W = self._b = None
        super()._unbind()

    def get_config(self) -> dict:
        """The layer's configuration as plain data (what a saved file records)."""
        reg = self.kernel_regularizer
        return {
            "class": "Dense",
            "name": self.name,
            "units": self.units,
            "activation": self.activation.get_config(),
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer.get_config(),
            "bias_initializer": self.bias_initializer.get_config(),
            "kernel_regularizer": reg.get_config() if reg else None,
            "trainable": self.trainable,
        }

    def copy(self) -> Dense:
        clone = from_config({**self.get_config(), "name": None})
        try:
            for which, value in zip(("W", "b"), self.get_weights()):
                clone._pending[which] = value
        except RuntimeError:  # never built: nothing to copy
            pass
        return clone

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r}, name={self.name!r})"


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of its inputs during training, scaling the rest by
    1 / (1 - rate) (inverted dropout); the identity at prediction time."""

    kind = LayerKind.DROPOUT

    def __init__(self, rate: float, name: str | None = None) -> None:
        ok = isinstance(rate, (int, float, np.floating)) and not isinstance(rate, bool)
        if not ok or not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be a number in [0, 1); got {rate!r}")
        super().__init__(name, trainable=True)
        self.rate = float(rate)

    def spec(self, n_in: int, offset: int) -> LayerSpec:
        return LayerSpec(kind=LayerKind.DROPOUT, n_in=n_in, n_out=n_in, rate=self.rate)

    def get_config(self) -> dict:
        return {"class": "Dropout", "name": self.name, "rate": self.rate}

    def __repr__(self) -> str:
        return f"Dropout({self.rate}, name={self.name!r})"


def _finite_array(what: str, value) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be an array of numbers; got {type(value).__name__}"
        ) from error
    if not np.isfinite(array).all():
        raise ValueError(f"{what} must be finite; it contains NaN or inf")
    return array


def from_config(config: dict) -> Layer:
    """The layer a get_config() dict describes."""
    config = dict(config)
    cls = config.pop("class")
    if cls == "Dropout":
        return Dropout(config["rate"], name=config.get("name"))
    if cls != "Dense":
        raise ValueError(f"unknown layer class {cls!r}; expected 'Dense' or 'Dropout'")
    reg = config.get("kernel_regularizer")
    return Dense(
        config["units"],
        activation=activations.from_config(config["activation"]),
        use_bias=config["use_bias"],
        kernel_initializer=initializers.from_config(config["kernel_initializer"]),
        bias_initializer=initializers.from_config(config["bias_initializer"]),
        kernel_regularizer=regularizers.Regularizer(**reg) if reg else None,
        name=config.get("name"),
        trainable=config.get("trainable", True),
    )
