"""The NumPy reference backend: the maths of every kernel, short and visible.

Each C kernel of csrc/ has a twin here with the same name (``fnn_act_grad`` ->
``act_grad``, ``fnn_step`` -> ``step``, ...) and, where it is exposed for the
cross-checks, the same arguments as its native binding: ``KERNELS`` lists them, and
tests/test_twins.py pairs every native single kernel with its twin by name. The
activations and losses are registries keyed by their codes (``ACTIVATIONS``,
``DERIVATIVES``, ``LOSSES``; as scikit-learn keys its activations and derivatives by
name), so adding one is adding an entry (docs/architecture.md has the recipe).
``ReferenceBackend`` and ``ReferenceSession`` string the kernels into the backend
interface (``fastnn.backends.base``). The native C backend must agree with these
functions to 1e-10 (float64) / 1e-4 (float32) relative, on every shape.

Conventions: arrays are row-major (batch, features); ``W`` is (n_in, n_out); a loss is
the mean over the batch of each sample's loss; activation derivatives are written in
terms of the layer's output ``a`` (GELU, the exception, uses its input ``z``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from .spec import (
    DROPOUT_BITS,
    GOLDEN,
    Act,
    LayerKind,
    Loss,
    LossSpec,
    Metric,
    NetSpec,
    Opt,
    Precision,
    StepSpec,
    TrainingBuffers,
    Workspace,
    dropout_key,
    dropout_threshold,
    mix64,
)

# ---------------------------------------------------------------- matrix products

EPILOGUE_MODES = ("none", "forward", "act_grad")


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    *,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
    out: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    act=Act.LINEAR,
    act_param: float = 0.0,
    z: np.ndarray | None = None,
    aux: np.ndarray | None = None,
    mode: str | None = None,
    precision="float32",
) -> np.ndarray:
    """fnn_sgemm / fnn_dgemm: out = epilogue(alpha op(a) @ op(b) + beta out), op
    transposing when asked. Epilogue ``mode`` (inferred when None, as the native one):
    "forward" adds ``bias``, keeps the sum in ``z`` and applies ``act``; "act_grad"
    multiplies by act' of ``aux`` (the activation's output; its input for GELU).
    ``precision="bf16"`` (or Precision.BF16; float32 only) is fnn_sgemm_bf16: a and b
    rounded to bf16 (round_bf16), whose products are exact in float32, summed in float32;
    the epilogue stays float32."""
    if _bf16(precision):
        if a.dtype != np.float32 or b.dtype != np.float32:
            raise TypeError(f"precision='bf16' multiplies float32 operands; a has dtype {a.dtype}")
        a, b = round_bf16(a), round_bf16(b)
    t = (a.T if trans_a else a) @ (b.T if trans_b else b)
    if alpha != 1:
        t = t * t.dtype.type(alpha)
    if beta != 0:
        t = t + t.dtype.type(beta) * out
    act = Act[act.strip().upper()] if isinstance(act, str) else act
    if mode is None:
        forward = bias is not None or z is not None or act != Act.LINEAR
        mode = "act_grad" if aux is not None else "forward" if forward else "none"
    if mode == "forward":
        if bias is not None:
            t = t + bias
        if z is not None:
            z[...] = t
        t = act_forward(act, t, act_param)
    elif mode == "act_grad":
        t = act_grad(act, aux, aux, t, act_param)
    if out is None:
        return t
    out[...] = t
    return out


def _bf16(precision) -> bool:
    """Whether a gemm precision (a name, or a spec.Precision) is bf16; ValueError else."""
    if isinstance(precision, Precision):
        return precision == Precision.BF16
    if precision not in ("float32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}; expected one of ('float32', 'bf16')")
    return precision == "bf16"


# ---------------------------------------------------------------- bf16


def bf16_bits(x: np.ndarray) -> np.ndarray:
    """The bfloat16 bits (uint16) of float32 x, from its bits u: round to nearest, ties to
    even, (u + 0x7FFF + ((u >> 16) & 1)) >> 16; a NaN stays NaN (quiet: bit 6 set); a
    float32 subnormal becomes a zero of its sign, as the CPU's vcvtneps2bf16 does."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32)
    nearest = (u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16  # NaN: wraps, unused
    bits = np.where((u & 0x7FFFFFFF) > 0x7F800000, (u >> 16) | 0x0040, nearest)
    bits = np.where((u & 0x7F800000) == 0, (u >> 16) & 0x8000, bits)
    return bits.astype(np.uint16)


def round_bf16(x: np.ndarray) -> np.ndarray:
    """float32 x rounded to bf16 (bf16_bits) and widened back (exactly) to float32."""
    return (bf16_bits(x).astype(np.uint32) << 16).view(np.float32)


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """The float32 values of bf16 bits: the bits are a float32's upper half."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# ---------------------------------------------------------------- activations

_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) = erfc(-z / sqrt 2) / 2 elementwise (NumPy has no erfc), in double via
    math.erfc: accurate in both tails, where 0.5 (1 + erf(z / sqrt 2)) loses every digit
    for z << 0."""
    return (0.5 * _erfc(-z.astype(np.float64) / math.sqrt(2)).astype(np.float64)).astype(z.dtype)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) without overflow: only e^-|z| is ever computed."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _gelu_grad(a, z, da, alpha):
    if z is None:
        raise ValueError("GELU's derivative needs the pre-activation z")
    cdf = normal_cdf(z)
    pdf = np.exp(-0.5 * z * z) / np.sqrt(a.dtype.type(2 * np.pi))
    return da * (cdf + z * pdf)


def _no_gradient(a, z, da, alpha):
    raise ValueError("the 'step' activation has no useful gradient; train it with fn.Perceptron")


# code -> f(z, alpha): the output for pre-activation z (alpha: leaky_relu's, elu's)
ACTIVATIONS: dict[int, Callable] = {
    Act.LINEAR: lambda z, alpha: z.copy(),
    Act.RELU: lambda z, alpha: np.maximum(z, 0),
    Act.LEAKY_RELU: lambda z, alpha: np.where(z > 0, z, z * z.dtype.type(alpha)),
    Act.SIGMOID: lambda z, alpha: sigmoid(z),
    Act.TANH: lambda z, alpha: np.tanh(z),
    Act.SOFTMAX: lambda z, alpha: softmax(z),
    Act.ELU: lambda z, alpha: np.where(z > 0, z, z.dtype.type(alpha) * np.expm1(np.minimum(z, 0))),
    Act.GELU: lambda z, alpha: z * normal_cdf(z),
    Act.SOFTPLUS: lambda z, alpha: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))),
    Act.STEP: lambda z, alpha: (z >= 0).astype(z.dtype),
}

# code -> f(a, z, da, alpha): dL/dz from dL/da, for output a (z: GELU's input only)
DERIVATIVES: dict[int, Callable] = {
    Act.LINEAR: lambda a, z, da, alpha: da.copy(),
    Act.RELU: lambda a, z, da, alpha: np.where(a > 0, da, 0).astype(a.dtype),
    Act.LEAKY_RELU: lambda a, z, da, alpha: np.where(a > 0, da, da * a.dtype.type(alpha)),
    Act.SIGMOID: lambda a, z, da, alpha: da * a * (a.dtype.type(1) - a),
    Act.TANH: lambda a, z, da, alpha: da * (a.dtype.type(1) - a * a),
    # the Jacobian-vector product of softmax, row by row
    Act.SOFTMAX: lambda a, z, da, alpha: a * (da - (da * a).sum(axis=1, keepdims=True)),
    Act.ELU: lambda a, z, da, alpha: np.where(a > 0, da, da * (a + a.dtype.type(alpha))),
    Act.GELU: _gelu_grad,
    Act.SOFTPLUS: lambda a, z, da, alpha: da * -np.expm1(-a),  # sigmoid(z) = 1 - e^-a
    Act.STEP: _no_gradient,
}


def _entry(registry: dict, code, what: str):
    try:
        return registry[code]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} code {code!r}") from None


def act_forward(act, z: np.ndarray, param: float = 0.0) -> np.ndarray:
    """fnn_act_forward (fnn_softmax_rows for softmax): a new array act(z)."""
    return _entry(ACTIVATIONS, act, "activation")(z, param)


def act_grad(act, a: np.ndarray, z: np.ndarray | None, da: np.ndarray, param: float = 0.0):
    """fnn_act_grad (fnn_softmax_grad_rows for softmax): a new array dL/dz from dL/da,
    for output a (and input z, needed by GELU only)."""
    return _entry(DERIVATIVES, act, "activation")(a, z, da, param)


# ---------------------------------------------------------------- dense layer


def dense_forward(x, w, b, act, param: float = 0.0, precision=Precision.FLOAT32):
    """(z, a) with z = x @ w + b and a = act(z); b may be None. The product in
    ``precision`` (gemm); the bias and the activation in the dtype."""
    z = gemm(x, w, precision=precision)
    if b is not None:
        z += b
    return z, act_forward(act, z, param)


def dense_backward(x, w, dz, need_dx: bool = True, precision=Precision.FLOAT32):
    """(dw, db, dx) of a dense layer from dL/dz; dx is None when not needed. Both
    products in ``precision`` (gemm), as autocast runs a linear layer's backward."""
    dw = gemm(x, dz, trans_a=True, precision=precision)
    db = dz.sum(axis=0)
    dx = gemm(dz, w, trans_b=True, precision=precision) if need_dx else None
    return dw, db, dx


# ---------------------------------------------------------------- dropout


def dropout_mask(
    seed: int, step: int, layer: int, shape: tuple, rate: float, first: int = 0
) -> np.ndarray:
    """fnn_dropout_mask: the uint8 keep-mask of ``shape``; element i is element
    ``first + i`` of the (seed, step, layer) mask, kept when
    mix64(key + (first + i + 1) * GOLDEN) >> 40 >= threshold."""
    key = np.uint64(dropout_key(seed, step, layer))
    count = int(np.prod(shape))
    x = key + np.arange(first + 1, first + count + 1, dtype=np.uint64) * np.uint64(GOLDEN)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    bits = x >> np.uint64(64 - DROPOUT_BITS)
    return (bits >= dropout_threshold(rate)).astype(np.uint8).reshape(shape)


def dropout_scale(rate: float, dtype) -> np.generic:
    return np.dtype(dtype).type(1.0 / (1.0 - rate))


# ---------------------------------------------------------------- losses


def _targets_matrix(y: np.ndarray, n_out: int, dtype) -> np.ndarray:
    """Integer labels (n,) -> one-hot (n, n_out); float targets pass through."""
    if y.ndim == 1 and y.dtype.kind in "iu":
        onehot = np.zeros((y.shape[0], n_out), dtype)
        onehot[np.arange(y.shape[0]), y] = 1
        return onehot
    return y.reshape(y.shape[0], -1).astype(dtype, copy=False)


def _outputs(a: np.ndarray):
    """k, the number of outputs, in a's dtype: what the per-output means divide by."""
    return a.dtype.type(a.shape[1])


def _cross_entropy(a, z, t, param):
    """-sum t log softmax(z) from the logits; gradient (w.r.t. z) a sum(t) - t."""
    per_sample = -(t * log_softmax(z)).sum(axis=1)
    return per_sample, a * t.sum(axis=1, keepdims=True) - t


def _kl_divergence(a, z, t, param):
    per_sample, grad = _cross_entropy(a, z, t, param)
    safe = np.where(t > 0, t, 1)
    return per_sample + (t * np.log(safe)).sum(axis=1), grad


def _binary_cross_entropy(a, z, t, param):
    """max(z, 0) - z t + log1p(e^-|z|) from the logits; gradient (w.r.t. z) a - t."""
    elementwise = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return elementwise.mean(axis=1), (a - t) / _outputs(a)


def _mse(a, z, t, param):
    e = a - t
    return (e * e).mean(axis=1), 2 * e / _outputs(a)


def _mae(a, z, t, param):
    e = a - t
    return np.abs(e).mean(axis=1), np.sign(e) / _outputs(a)


def _huber(a, z, t, param):
    e = a - t
    delta = a.dtype.type(param)
    absolute = np.abs(e)
    quadratic = np.minimum(absolute, delta)
    per_sample = (0.5 * quadratic * quadratic + delta * (absolute - quadratic)).mean(axis=1)
    return per_sample, np.clip(e, -delta, delta) / _outputs(a)


# code -> f(a, z, t, param): (per-sample losses (n,), their gradient (n, k) w.r.t. the
# output a, or w.r.t. z for a loss in FUSED_HEADS with that head), before the 1/n of the
# mean; t is the targets as a matrix (labels one-hot), param the loss's (Huber's delta)
LOSSES: dict[int, Callable] = {
    Loss.MSE: _mse,
    Loss.MAE: _mae,
    Loss.HUBER: _huber,
    Loss.CROSS_ENTROPY: _cross_entropy,
    Loss.BINARY_CROSS_ENTROPY: _binary_cross_entropy,
    Loss.KL_DIVERGENCE: _kl_divergence,
}

# loss code -> the output activation it is fused with: the gradient comes straight from
# the logits, so that no finite input gives inf or NaN
FUSED_HEADS: dict[int, int] = {
    Loss.CROSS_ENTROPY: Act.SOFTMAX,
    Loss.KL_DIVERGENCE: Act.SOFTMAX,
    Loss.BINARY_CROSS_ENTROPY: Act.SIGMOID,
}


def loss_terms(loss: LossSpec, act, a, z, y):
    """(per-sample losses (n,), dL/d(output) per sample (n, k)) before the 1/n of the mean.

    For the canonical pairs (FUSED_HEADS: softmax + cross_entropy/kl_divergence, sigmoid +
    binary_cross_entropy) the gradient returned is already with respect to z, computed
    from the logits so that no finite input gives inf or NaN.
    """
    t = _targets_matrix(y, a.shape[1], a.dtype)
    return _entry(LOSSES, loss.code, "loss")(a, z, t, loss.param)


def is_fused(loss: LossSpec, act) -> bool:
    """Whether loss_terms' gradient is already with respect to z (the canonical pairs)."""
    return FUSED_HEADS.get(loss.code) == act


def loss_grad(
    loss: LossSpec,
    act,
    a: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    act_param: float = 0.0,
    denominator: float | None = None,
) -> tuple[float, np.ndarray]:
    """fnn_loss_grad: (loss, dL/dz) of the output layer's rows (output a, pre-activation
    z, head ``act``): the sum of the per-sample losses (times sample_weight) divided by
    ``denominator`` (None: the number of rows, i.e. the mean), and its gradient."""
    denominator = a.shape[0] if denominator is None else denominator
    per_sample, grad = loss_terms(loss, act, a, z, y)
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
        grad = grad * sample_weight[:, None].astype(grad.dtype)
    grad = grad / a.dtype.type(denominator)
    if not is_fused(loss, act):
        grad = act_grad(act, a, z, grad, act_param)
    return float(per_sample.astype(np.float64).sum() / denominator), grad


def regularization_penalty(net: NetSpec, params: np.ndarray) -> float:
    """fnn_net_penalty: sum over Dense layers of l1 |W| + l2 W^2."""
    total = 0.0
    for layer in net.layers:
        if layer.kind == LayerKind.DENSE and (layer.l1 or layer.l2):
            w = params[layer.w_offset : layer.w_offset + layer.n_in * layer.n_out]
            total += layer.l1 * float(np.abs(w).sum()) + layer.l2 * float((w * w).sum())
    return total


# ---------------------------------------------------------------- metrics


def metric_sum(code, out: np.ndarray, y: np.ndarray) -> float:
    """fnn_metric_sum: a training metric summed over the rows of a batch (its mean is the
    sum over the rows seen); ``y`` is integer labels or targets with ``out``'s rows."""
    if code == Metric.ACCURACY:
        labels = y if y.ndim == 1 else y.argmax(axis=1)
        return float((out.argmax(axis=1) == labels).sum())
    if y.ndim == 1 and out.shape[1] > 1:  # labels against class scores: one-hot rows
        target = _targets_matrix(y, out.shape[1], out.dtype)
    else:
        target = y.reshape(out.shape)
    if code == Metric.BINARY_ACCURACY:
        return float(((out > 0.5) == (target > 0.5)).mean(axis=1).sum())
    error = out - target
    if code == Metric.MSE:
        return float((error * error).mean(axis=1).sum(dtype=np.float64))
    if code == Metric.MAE:
        return float(np.abs(error).mean(axis=1).sum(dtype=np.float64))
    raise ValueError(f"unknown metric code {code!r}")


# ---------------------------------------------------------------- optimizer rules


def grad_norm(grads: np.ndarray, segments: np.ndarray) -> float:
    """fnn_grad_norm: the L2 norm of grads over the [start, stop) segments, in double."""
    picked = np.concatenate([grads[a:b] for a, b in segments]) if len(segments) else grads[:0]
    picked = picked.astype(np.float64)
    return math.sqrt(float(np.dot(picked, picked)))


def flush(state: np.ndarray) -> np.ndarray:
    """Values below the smallest normal number become 0, in place (and returned).

    Every rule stores its state (velocity, moments, accumulators) flushed, and writes
    its moving averages and Adam's step so that no intermediate product goes denormal
    before the state does: the moments of weights whose gradient is mostly zero decay
    geometrically, and denormal arithmetic stalls the CPU (see csrc/train/optim_loops.inc).
    """
    state[np.abs(state) < np.finfo(state.dtype).tiny] = 0
    return state


def apply_rule(spec: StepSpec, p, g, states, lr: float, t: int) -> None:
    """Update parameters p in place from gradient g (Keras's rules; moving averages as
    beta * m + (1 - beta) * g, states flushed: see ``flush``)."""
    ty = p.dtype.type
    lr = ty(lr)
    if spec.kind == Opt.SGD:
        if spec.momentum == 0:
            p -= lr * g
            return
        (v,) = states
        mom = ty(spec.momentum)
        v *= mom
        v -= lr * g
        flush(v)
        p += mom * v - lr * g if spec.nesterov else v
    elif spec.kind in (Opt.ADAM, Opt.ADAMW):
        m, v = states
        b1, b2 = ty(spec.beta1), ty(spec.beta2)
        if spec.kind == Opt.ADAMW:
            p -= lr * ty(spec.weight_decay) * p
        m[...] = flush(b1 * m + (1 - b1) * g)
        v[...] = flush(b2 * v + (1 - b2) * (g * g))
        step = ty(lr * math.sqrt(1 - spec.beta2**t) / (1 - spec.beta1**t))
        p -= step * (m / (np.sqrt(v) + ty(spec.eps)))
    elif spec.kind == Opt.RMSPROP:
        v = states[0]
        rho = ty(spec.rho)
        v[...] = flush(rho * v + (1 - rho) * (g * g))
        update = lr * g / (np.sqrt(v) + ty(spec.eps))
        if spec.momentum > 0:
            buf = states[1]
            buf *= ty(spec.momentum)
            buf += update
            update = flush(buf)
        p -= update
    elif spec.kind == Opt.ADAGRAD:
        (acc,) = states
        acc += g * g
        flush(acc)
        p -= lr * g / (np.sqrt(acc) + ty(spec.eps))
    else:
        raise ValueError(f"unknown optimizer code {spec.kind!r}")


def step(spec: StepSpec, params, grads, states, segments, lr: float, t: int) -> None:
    """fnn_step: one optimizer update, in place, of the [start, stop) ranges in
    ``segments``; with clipnorm, the gradient over all of them is first scaled by
    clipnorm / max(norm, clipnorm). ``t`` is the 1-based step count (Adam's bias
    correction)."""
    scale = 1.0
    if spec.clipnorm > 0:
        scale = spec.clipnorm / max(grad_norm(grads, segments), spec.clipnorm)
    scale = grads.dtype.type(scale)
    for a, b in segments:
        apply_rule(spec, params[a:b], grads[a:b] * scale, [s[a:b] for s in states], lr, t)


# The single kernels, by the names of their native bindings (tests/test_twins.py).
KERNELS: dict[str, Callable] = {
    "gemm": gemm,
    "act_forward": act_forward,
    "act_grad": act_grad,
    "loss_grad": loss_grad,
    "metric_sum": metric_sum,
    "step": step,
    "grad_norm": grad_norm,
    "dropout_mask": dropout_mask,
    "mix64": mix64,
    "round_bf16": round_bf16,
    "bf16_bits": bf16_bits,
    "bf16_to_float32": bf16_to_float32,
}


# ---------------------------------------------------------------- the backend


def _quiet(method):
    """Run a backend method without NumPy's floating-point warnings: a diverging model
    overflows by design, and fit reports that itself (a RuntimeWarning naming the step),
    as the native backend does."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return method(*args, **kwargs)

    return wrapper


class ReferenceBackend:
    """The backend interface on NumPy: one short method per whole-network operation."""

    name = "numpy"
    predict_checks_finite = False  # Model.predict tests its inputs

    def workspace(self, net: NetSpec, batch: int) -> Workspace:
        return Workspace(net, batch)

    def session(
        self,
        net: NetSpec,
        loss: LossSpec,
        step_spec: StepSpec,
        buffers: TrainingBuffers,
        batch: int,
        metrics=(),
        *,
        dropout_seed: int = 0,
        segments: np.ndarray | None = None,
    ) -> ReferenceSession:
        return ReferenceSession(
            self, net, loss, step_spec, buffers, batch, metrics, dropout_seed, segments
        )

    @_quiet
    def forward(
        self, net, params, x, ws: Workspace, training: bool, seed: int, step: int, row_offset=0
    ):
        """Run the network on x (n <= ws.batch rows); returns the output rows (a view).
        Dropout's masks are those of rows row_offset.. of the (seed, step) batch."""
        n = x.shape[0]
        ws.n = n
        for i, layer in enumerate(net.layers):
            out = ws.acts[i][:n]
            if layer.kind == LayerKind.DROPOUT:
                if training and layer.rate > 0:
                    first = row_offset * layer.n_out
                    mask = dropout_mask(seed, step, i, x.shape, layer.rate, first)
                    ws.masks[i][:n] = mask
                    np.multiply(x, mask * dropout_scale(layer.rate, x.dtype), out=out)
                else:
                    out[...] = x
            else:
                w, b = _weights(net, params, i)
                z, a = dense_forward(x, w, b, layer.act, layer.act_param, layer.precision)
                if ws.pres[i] is not None:
                    ws.pres[i][:n] = z
                out[...] = a
            x = out
        return ws.acts[-1][:n]

    @_quiet
    def loss_grad(
        self,
        net,
        loss: LossSpec,
        params,
        ws: Workspace,
        y,
        sample_weight=None,
        *,
        denominator=None,
        penalty: bool = True,
    ):
        """Loss of the last forward batch (its mean, or its sum over ``denominator``),
        plus the regularization penalty unless ``penalty`` is False; writes ws.dout."""
        n = ws.n
        last = len(net.layers) - 1
        a, z = ws.acts[last][:n], ws.pres[last][:n]
        act_param = net.layers[last].act_param
        value, ws.dout[:n] = loss_grad(
            loss, net.output_act, a, z, y, sample_weight, act_param, denominator
        )
        return value + regularization_penalty(net, params) if penalty else value

    @_quiet
    def backward(self, net, params, grads, ws: Workspace, x, *, penalty: bool = True) -> None:
        """Gradients of the trainable layers into grads, from ws.dout; x is the batch.
        The regularizer's gradient is added unless ``penalty`` is False."""
        n = ws.n
        stop = net.lowest_trainable()
        delta = ws.dout[:n]  # dL/dz of the current Dense layer, or dL/da of a Dropout
        for i in range(len(net.layers) - 1, stop - 1, -1):
            layer = net.layers[i]
            below = ws.acts[i - 1][:n] if i > 0 else x
            if layer.kind == LayerKind.DROPOUT:
                scale = dropout_scale(layer.rate, delta.dtype)
                delta = delta * ws.masks[i][:n] * scale if layer.rate > 0 else delta
            else:
                w, _ = _weights(net, params, i)
                dw, db, dx = dense_backward(below, w, delta, i > stop, layer.precision)
                if layer.trainable:
                    if penalty:
                        dw = dw + _regularization_grad(layer, w)
                    gw, gb = _weights(net, grads, i)
                    gw[...] = dw
                    if gb is not None:
                        gb[...] = db
                delta = dx
            if i > stop and net.layers[i - 1].kind == LayerKind.DENSE:
                prev = net.layers[i - 1]
                z = ws.pres[i - 1][:n] if ws.pres[i - 1] is not None else None
                delta = act_grad(prev.act, ws.acts[i - 1][:n], z, delta, prev.act_param)

    @_quiet
    def step(self, spec: StepSpec, params, grads, states, segments, lr: float, t: int) -> None:
        """One optimizer update of the trainable segments; t counts steps from 1."""
        step(spec, params, grads, states, segments, lr, t)

    def metric_sum(self, code, out, y) -> float:
        return metric_sum(code, out, y)

    @_quiet
    def predict(self, net, params, x, chunk: int = 4096):
        """The network's output for every row of x; keeps nothing."""
        out = np.empty((x.shape[0], net.n_out), net.dtype)
        for start in range(0, x.shape[0], chunk):
            h = x[start : start + chunk]
            for i, layer in enumerate(net.layers):
                if layer.kind == LayerKind.DENSE:
                    w, b = _weights(net, params, i)
                    h = dense_forward(h, w, b, layer.act, layer.act_param, layer.precision)[1]
            out[start : start + chunk] = h
        return out


class ReferenceSession:
    """One fit's training session on NumPy (base.TrainingSession): the readable
    definition of what the native session does in one C call per batch."""

    def __init__(
        self, backend, net, loss, step_spec, buffers, batch, metrics, dropout_seed, segments
    ) -> None:
        self.backend, self.net, self.loss, self.step_spec = backend, net, loss, step_spec
        self.params, self.grads, self.states = buffers.params, buffers.grads, buffers.states
        self.ws = backend.workspace(net, batch)
        self.metrics = tuple(metrics)
        self.totals = np.zeros(len(self.metrics))
        self.dropout_seed = dropout_seed
        self.trainable_segments = net.segments() if segments is None else segments
        self.data = None

    def bind_data(self, X, y, sample_weight=None) -> None:
        self.data = (X, y, sample_weight)

    def release_data(self) -> None:
        self.data = None

    def reset_totals(self) -> None:
        self.totals[:] = 0

    def _batch(self, rows):
        if self.data is None:
            raise RuntimeError("bind_data(X, y) first: the session has no training rows")
        X, y, weight = self.data
        x = X[rows]
        if not 1 <= x.shape[0] <= self.ws.batch:
            raise ValueError(f"rows: a batch of 1 to {self.ws.batch} rows, got {x.shape[0]}")
        return x, y[rows], None if weight is None else weight[rows]

    @_quiet
    def compute_gradients(
        self, rows, dropout_step: int, *, row_offset=0, denominator=None, penalty=True
    ) -> float:
        """Forward (training), the loss and, if it is finite, the metrics' sums and
        backward into grads; returns the loss (a non-finite one writes no gradient)."""
        net, params, ws = self.net, self.params, self.ws
        x, y, weight = self._batch(rows)
        seed = self.dropout_seed
        out = self.backend.forward(net, params, x, ws, True, seed, dropout_step, row_offset)
        loss = self.backend.loss_grad(
            net, self.loss, params, ws, y, weight, denominator=denominator, penalty=penalty
        )
        if not math.isfinite(loss):
            return loss
        for i, code in enumerate(self.metrics):
            self.totals[i] += metric_sum(code, out, y)
        self.backend.backward(net, params, self.grads, ws, x, penalty=penalty)
        return loss

    @_quiet
    def apply_gradients(self, lr: float, t: int) -> None:
        step(self.step_spec, self.params, self.grads, self.states, self.trainable_segments, lr, t)

    def train_step(self, rows, lr: float, t: int, dropout_step: int) -> float:
        """compute_gradients, then (only if the loss is finite) apply_gradients."""
        loss = self.compute_gradients(rows, dropout_step)
        if math.isfinite(loss):
            self.apply_gradients(lr, t)
        return loss


def _weights(net: NetSpec, flat: np.ndarray, i: int):
    """Views (W, b) of layer i inside a flat buffer (b is None without bias)."""
    layer = net.layers[i]
    w = flat[layer.w_offset : layer.w_offset + layer.n_in * layer.n_out]
    b = flat[layer.b_offset : layer.b_offset + layer.n_out] if layer.b_offset >= 0 else None
    return w.reshape(layer.n_in, layer.n_out), b


def _regularization_grad(layer, w):
    grad = np.zeros_like(w)
    if layer.l1:
        grad += w.dtype.type(layer.l1) * np.sign(w)
    if layer.l2:
        grad += w.dtype.type(2 * layer.l2) * w
    return grad
