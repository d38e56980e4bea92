"""What the Model hands to a backend: codes, the network description, the optimizer step.

This module is the seam between the Python API and the numeric backends. Everything
here is plain data; the integer codes are mirrored one-for-one by the enums in
``csrc/fastnn.h`` (a test checks that they agree).

Layout of the flat parameter buffer: layers in order; a Dense layer owns ``W`` (n_in x
n_out, row-major) at ``w_offset`` followed by ``b`` (n_out) at ``b_offset`` (-1 when the
layer has no bias). Gradients and optimizer state use the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Act(IntEnum):
    """Activation codes (``FNN_ACT_*`` in fastnn.h)."""

    LINEAR = 0
    RELU = 1
    LEAKY_RELU = 2
    SIGMOID = 3
    TANH = 4
    SOFTMAX = 5
    ELU = 6
    GELU = 7
    SOFTPLUS = 8
    STEP = 9


class Loss(IntEnum):
    """Loss codes (``FNN_LOSS_*`` in fastnn.h)."""

    MSE = 0
    MAE = 1
    HUBER = 2
    CROSS_ENTROPY = 3
    BINARY_CROSS_ENTROPY = 4
    KL_DIVERGENCE = 5


class Opt(IntEnum):
    """Optimizer codes (``FNN_OPT_*`` in fastnn.h)."""

    SGD = 0
    ADAM = 1
    ADAMW = 2
    RMSPROP = 3
    ADAGRAD = 4


class Metric(IntEnum):
    """Training metric codes (``FNN_METRIC_*`` in fastnn.h): what train_step sums per batch.

    ACCURACY: the argmax of the outputs against the label (or the target row's argmax);
    BINARY_ACCURACY: each output thresholded at 0.5 against its target thresholded at
    0.5, averaged over the outputs; MSE / MAE: the mean over the outputs of the squared
    / absolute error.
    """

    ACCURACY = 0
    BINARY_ACCURACY = 1
    MSE = 2
    MAE = 3


class Precision(IntEnum):
    """Matrix-product precision codes (``FNN_PRECISION_*`` in fastnn.h): FLOAT32, or BF16:
    both operands rounded to bfloat16, their (exact) products summed in float32 (float32
    nets only; see fastnn.precision)."""

    FLOAT32 = 0
    BF16 = 1


class LayerKind(IntEnum):
    """Layer codes (``FNN_LAYER_*`` in fastnn.h)."""

    DENSE = 0
    DROPOUT = 1


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the kernels see it.

    A Dropout layer has ``n_in == n_out``, no parameters (offsets -1) and ``rate``; a
    Dense layer has ``rate == 0``. ``l1``/``l2`` are the kernel regularizer's factors.
    ``trainable=False`` means: no gradient for this layer's parameters. ``precision``:
    a Dense layer's forward and backward products (Precision).
    """

    kind: LayerKind
    n_in: int
    n_out: int
    act: Act = Act.LINEAR
    act_param: float = 0.0
    w_offset: int = -1
    b_offset: int = -1
    rate: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    trainable: bool = True
    precision: Precision = Precision.FLOAT32


@dataclass(frozen=True)
class NetSpec:
    """A whole network: its layers, the size of its flat parameter buffer and its dtype."""

    layers: tuple[LayerSpec, ...]
    n_params: int
    dtype: np.dtype

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    @property
    def output_act(self) -> Act:
        return self.layers[-1].act

    def keeps_preactivation(self, index: int) -> bool:
        """Whether the forward pass keeps layer ``index``'s pre-activation Z.

        Backprop needs only outputs except for GELU, whose derivative is a function of
        Z; the loss needs the output layer's Z (logits) to stay finite for any input.
        """
        layer = self.layers[index]
        if layer.kind != LayerKind.DENSE:
            return False
        return layer.act == Act.GELU or index == len(self.layers) - 1

    def lowest_trainable(self) -> int:
        """Index of the first trainable Dense layer, or len(layers) when none is.

        Backprop stops there: nothing below it needs a gradient.
        """
        for i, layer in enumerate(self.layers):
            if layer.kind == LayerKind.DENSE and layer.trainable:
                return i
        return len(self.layers)

    def segments(self) -> np.ndarray:
        """[start, stop) ranges of the flat buffer the optimizer updates, as int64 (s, 2)."""
        ranges: list[tuple[int, int]] = []
        for layer in self.layers:
            if layer.kind != LayerKind.DENSE or not layer.trainable:
                continue
            stop = layer.w_offset + layer.n_in * layer.n_out
            if layer.b_offset >= 0:
                stop = layer.b_offset + layer.n_out
            if ranges and ranges[-1][1] == layer.w_offset:
                ranges[-1] = (ranges[-1][0], stop)  # adjacent layers: one range
            else:
                ranges.append((layer.w_offset, stop))
        return np.array(ranges, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class LossSpec:
    """The loss: its code and its parameter (Huber's delta; unused otherwise)."""

    code: Loss
    param: float = 0.0


@dataclass(frozen=True)
class StepSpec:
    """One optimizer's update rule and hyperparameters (the learning rate comes per step).

    ``clipnorm`` 0 means off; otherwise the gradient over all updated segments is scaled
    by ``clipnorm / max(norm, clipnorm)`` before the rule is applied.
    """

    kind: Opt
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7
    rho: float = 0.9
    weight_decay: float = 0.0
    clipnorm: float = 0.0
    initial_accumulator: float = 0.1

    def n_states(self) -> int:
        """How many state arrays (each the size of the parameter buffer) the rule keeps."""
        if self.kind == Opt.SGD:
            return 1 if self.momentum > 0 else 0
        if self.kind in (Opt.ADAM, Opt.ADAMW):
            return 2
        if self.kind == Opt.RMSPROP:
            return 2 if self.momentum > 0 else 1
        return 1  # ADAGRAD

    def initial_state_value(self, index: int) -> float:
        return self.initial_accumulator if self.kind == Opt.ADAGRAD else 0.0


@dataclass(frozen=True, eq=False)
class TrainingBuffers:
    """A model's flat training state, all in the NetSpec layout and the net's dtype:
    ``params``, ``grads`` and the optimizer's ``states`` (StepSpec.n_states() arrays).
    A training session works on these arrays in place and never copies them."""

    params: np.ndarray
    grads: np.ndarray
    states: tuple[np.ndarray, ...] = ()


class Workspace:
    """Buffers for one (network, batch size): allocated once, reused by every batch.

    ``acts[i]`` is layer i's output, ``pres[i]`` its pre-activation where kept,
    ``masks[i]`` a Dropout layer's keep-mask (uint8), ``dout`` the loss gradient with
    respect to the output layer's pre-activation, ``deltas`` two ping-pong buffers for
    the gradient flowing down. Only the first ``n`` rows are used for a batch of n.
    """

    def __init__(self, net: NetSpec, batch: int) -> None:
        dtype = net.dtype
        self.batch = batch
        self.acts = [np.zeros((batch, layer.n_out), dtype) for layer in net.layers]
        self.pres = [
            np.zeros((batch, layer.n_out), dtype) if net.keeps_preactivation(i) else None
            for i, layer in enumerate(net.layers)
        ]
        self.masks = [
            np.zeros((batch, layer.n_out), np.uint8) if layer.kind == LayerKind.DROPOUT else None
            for layer in net.layers
        ]
        width = max(layer.n_out for layer in net.layers)
        self.dout = np.zeros((batch, net.n_out), dtype)
        self.deltas = [np.zeros((batch, width), dtype) for _ in range(2)]
        self.n = 0  # rows of the last forward pass


# --- the counter-based random numbers behind Dropout ---------------------------------
# Both backends draw the same masks: element i of layer l's mask at training step s is
# a pure function of (seed, s, l, i). No generator state to save, no dependence on the
# thread count, and the NumPy reference can reproduce the C kernel bit for bit.

GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
DROPOUT_BITS = 24


def mix64(x: int) -> int:
    """SplitMix64's finaliser on a Python int (the C twin is ``fnn_mix64``)."""
    x &= MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    x ^= x >> 31
    return x


def dropout_key(seed: int, step: int, layer: int) -> int:
    """The per-(step, layer) key from which a mask's elements are hashed."""
    return mix64((seed & MASK64) ^ mix64(step * GOLDEN + layer))


def dropout_threshold(rate: float) -> int:
    """An element is kept when its 24-bit hash is >= this threshold."""
    return round(rate * (1 << DROPOUT_BITS))
