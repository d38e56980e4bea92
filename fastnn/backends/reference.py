"""The NumPy reference backend: the maths of every kernel, short and visible.

Each operation is a small pure function; ``ReferenceBackend`` strings them into the
backend interface (see ``fastnn.backends.base``). The native C backend must agree with
these functions to 1e-10 (float64) / 1e-4 (float32) relative, on every shape.

Conventions: arrays are row-major (batch, features); ``W`` is (n_in, n_out); a loss is
the mean over the batch of each sample's loss; activation derivatives are written in
terms of the layer's output ``a`` (GELU, the exception, uses its input ``z``).
"""

from __future__ import annotations

import functools
import math

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
    Workspace,
    dropout_key,
    dropout_threshold,
)

# ---------------------------------------------------------------- matrix products


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    trans_a: bool = False,
    trans_b: bool = False,
    precision: str = "float32",
):
    """op(a) @ op(b), where op transposes when asked. ``precision="bf16"`` (or
    Precision.BF16; float32 only) multiplies the operands rounded to bf16 (round_bf16):
    their products are exact in float32, so this is float32 summation of bf16 products,
    as the native kernels do."""
    if isinstance(precision, Precision):
        precision = precision.name.lower()
    if precision == "bf16":
        if a.dtype != np.float32 or b.dtype != np.float32:
            raise TypeError(f"precision='bf16' multiplies float32 operands; got {a.dtype}")
        a, b = round_bf16(a), round_bf16(b)
    elif precision != "float32":
        raise ValueError(f"unknown precision {precision!r}; expected 'float32' or 'bf16'")
    return (a.T if trans_a else a) @ (b.T if trans_b else b)


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


def activate(act: Act, z: np.ndarray, param: float = 0.0) -> np.ndarray:
    """The activation's output for pre-activation z (alpha = param where it applies)."""
    if act == Act.LINEAR:
        return z.copy()
    if act == Act.RELU:
        return np.maximum(z, 0)
    if act == Act.LEAKY_RELU:
        return np.where(z > 0, z, z * z.dtype.type(param))
    if act == Act.SIGMOID:
        return sigmoid(z)
    if act == Act.TANH:
        return np.tanh(z)
    if act == Act.SOFTMAX:
        return softmax(z)
    if act == Act.ELU:
        return np.where(z > 0, z, z.dtype.type(param) * np.expm1(np.minimum(z, 0)))
    if act == Act.GELU:
        return z * normal_cdf(z)
    if act == Act.SOFTPLUS:
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    if act == Act.STEP:
        return (z >= 0).astype(z.dtype)
    raise ValueError(f"unknown activation code {act!r}")


def activation_grad(
    act: Act, a: np.ndarray, z: np.ndarray | None, da: np.ndarray, param: float = 0.0
) -> np.ndarray:
    """dL/dz from dL/da, for output a (and input z, needed by GELU only)."""
    one = a.dtype.type(1)
    if act == Act.LINEAR:
        return da.copy()
    if act == Act.RELU:
        return np.where(a > 0, da, 0).astype(a.dtype)
    if act == Act.LEAKY_RELU:
        return np.where(a > 0, da, da * a.dtype.type(param))
    if act == Act.SIGMOID:
        return da * a * (one - a)
    if act == Act.TANH:
        return da * (one - a * a)
    if act == Act.SOFTMAX:  # Jacobian-vector product of softmax
        return a * (da - (da * a).sum(axis=1, keepdims=True))
    if act == Act.ELU:
        return np.where(a > 0, da, da * (a + a.dtype.type(param)))
    if act == Act.GELU:
        if z is None:
            raise ValueError("GELU's derivative needs the pre-activation z")
        cdf = normal_cdf(z)
        pdf = np.exp(-0.5 * z * z) / np.sqrt(a.dtype.type(2 * np.pi))
        return da * (cdf + z * pdf)
    if act == Act.SOFTPLUS:  # d softplus / dz = sigmoid(z) = 1 - e^-a
        return da * -np.expm1(-a)
    if act == Act.STEP:
        raise ValueError(
            "the 'step' activation has no useful gradient; train it with fn.Perceptron"
        )
    raise ValueError(f"unknown activation code {act!r}")


# ---------------------------------------------------------------- dense layer


def dense_forward(x, w, b, act: Act, param: float = 0.0, precision=Precision.FLOAT32):
    """(z, a) with z = x @ w + b and a = act(z); b may be None. The product in
    ``precision`` (gemm); the bias and the activation in the dtype."""
    z = gemm(x, w, precision=precision)
    if b is not None:
        z += b
    return z, activate(act, z, param)


def dense_backward(x, w, dz, need_dx: bool = True, precision=Precision.FLOAT32):
    """(dw, db, dx) of a dense layer from dL/dz; dx is None when not needed. Both
    products in ``precision`` (gemm), as autocast runs a linear layer's backward."""
    dw = gemm(x, dz, trans_a=True, precision=precision)
    db = dz.sum(axis=0)
    dx = gemm(dz, w, trans_b=True, precision=precision) if need_dx else None
    return dw, db, dx


# ---------------------------------------------------------------- dropout


def dropout_mask(seed: int, step: int, layer: int, shape: tuple, rate: float) -> np.ndarray:
    """uint8 keep-mask; element i keeps when mix64(key + (i+1)*GOLDEN) >> 40 >= threshold."""
    key = np.uint64(dropout_key(seed, step, layer))
    count = int(np.prod(shape))
    x = key + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN)
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


def loss_terms(loss: LossSpec, act: Act, a, z, y):
    """(per-sample losses (n,), dL/d(output) per sample (n, k)) before the 1/n of the mean.

    For the canonical pairs (softmax + cross_entropy/kl_divergence, sigmoid +
    binary_cross_entropy) the gradient returned is already with respect to z, computed
    from the logits so that no finite input gives inf or NaN.
    """
    _n, k = a.shape
    t = _targets_matrix(y, k, a.dtype)
    if loss.code in (Loss.CROSS_ENTROPY, Loss.KL_DIVERGENCE):
        logp = log_softmax(z)
        per_sample = -(t * logp).sum(axis=1)
        if loss.code == Loss.KL_DIVERGENCE:
            safe = np.where(t > 0, t, 1)
            per_sample = per_sample + (t * np.log(safe)).sum(axis=1)
        grad = a * t.sum(axis=1, keepdims=True) - t
        return per_sample, grad
    if loss.code == Loss.BINARY_CROSS_ENTROPY:
        elementwise = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        return elementwise.mean(axis=1), (a - t) / a.dtype.type(k)
    e = a - t
    if loss.code == Loss.MSE:
        per_sample, da = (e * e).mean(axis=1), 2 * e
    elif loss.code == Loss.MAE:
        per_sample, da = np.abs(e).mean(axis=1), np.sign(e)
    elif loss.code == Loss.HUBER:
        delta = a.dtype.type(loss.param)
        absolute = np.abs(e)
        quadratic = np.minimum(absolute, delta)
        per_sample = (0.5 * quadratic * quadratic + delta * (absolute - quadratic)).mean(axis=1)
        da = np.clip(e, -delta, delta)
    else:
        raise ValueError(f"unknown loss code {loss.code!r}")
    return per_sample, da / a.dtype.type(k)


def is_fused(loss: LossSpec, act: Act) -> bool:
    """Whether loss_terms' gradient is already with respect to z (the canonical pairs)."""
    if loss.code in (Loss.CROSS_ENTROPY, Loss.KL_DIVERGENCE):
        return act == Act.SOFTMAX
    if loss.code == Loss.BINARY_CROSS_ENTROPY:
        return act == Act.SIGMOID
    return False


def regularization_penalty(net: NetSpec, params: np.ndarray) -> float:
    total = 0.0
    for layer in net.layers:
        if layer.kind == LayerKind.DENSE and (layer.l1 or layer.l2):
            w = params[layer.w_offset : layer.w_offset + layer.n_in * layer.n_out]
            total += layer.l1 * float(np.abs(w).sum()) + layer.l2 * float((w * w).sum())
    return total


# ---------------------------------------------------------------- metrics


def metric_sum(code: Metric, out: np.ndarray, y: np.ndarray) -> float:
    """A training metric summed over the rows of a batch (its mean is the sum over the
    rows seen); ``y`` is integer labels or targets with ``out``'s rows."""
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


def clip_scale(grads: np.ndarray, clipnorm: float) -> float:
    """The factor clipnorm / max(norm, clipnorm) (1 when clipping is off)."""
    if clipnorm <= 0:
        return 1.0
    norm = math.sqrt(float(np.dot(grads.astype(np.float64), grads.astype(np.float64))))
    return clipnorm / max(norm, clipnorm)


def flush(state: np.ndarray) -> np.ndarray:
    """Values below the smallest normal number become 0, in place (and returned).

    Every rule stores its state (velocity, moments, accumulators) flushed, and writes
    its moving averages and Adam's step so that no intermediate product goes denormal
    before the state does: the moments of weights whose gradient is mostly zero decay
    geometrically, and denormal arithmetic stalls the CPU (see csrc/optim_loops.inc).
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

    @_quiet
    def forward(self, net, params, x, ws: Workspace, training: bool, seed: int, step: int):
        """Run the network on x (n <= ws.batch rows); returns the output rows (a view)."""
        n = x.shape[0]
        ws.n = n
        for i, layer in enumerate(net.layers):
            out = ws.acts[i][:n]
            if layer.kind == LayerKind.DROPOUT:
                if training and layer.rate > 0:
                    mask = dropout_mask(seed, step, i, x.shape, layer.rate)
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
    def loss_grad(self, net, loss: LossSpec, params, ws: Workspace, y, sample_weight=None):
        """Mean loss of the last forward batch (plus regularization); writes ws.dout."""
        n = ws.n
        last = len(net.layers) - 1
        a = ws.acts[last][:n]
        z = ws.pres[last][:n]
        per_sample, grad = loss_terms(loss, net.output_act, a, z, y)
        if sample_weight is not None:
            per_sample = per_sample * sample_weight
            grad = grad * sample_weight[:, None].astype(grad.dtype)
        grad = grad / a.dtype.type(n)
        if not is_fused(loss, net.output_act):
            grad = activation_grad(net.output_act, a, z, grad, net.layers[last].act_param)
        ws.dout[:n] = grad
        return float(per_sample.astype(np.float64).sum() / n) + regularization_penalty(net, params)

    @_quiet
    def backward(self, net, params, grads, ws: Workspace, x) -> None:
        """Gradients of the trainable layers into grads, from ws.dout; x is the batch."""
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
                    dw = dw + _regularization_grad(layer, w)
                    gw, gb = _weights(net, grads, i)
                    gw[...] = dw
                    if gb is not None:
                        gb[...] = db
                delta = dx
            if i > stop and net.layers[i - 1].kind == LayerKind.DENSE:
                prev = net.layers[i - 1]
                z = ws.pres[i - 1][:n] if ws.pres[i - 1] is not None else None
                delta = activation_grad(prev.act, ws.acts[i - 1][:n], z, delta, prev.act_param)

    @_quiet
    def step(self, spec: StepSpec, params, grads, states, segments, lr: float, t: int) -> None:
        """One optimizer update of the trainable segments; t counts steps from 1."""
        g_all = np.concatenate([grads[a:b] for a, b in segments]) if len(segments) else grads[:0]
        scale = grads.dtype.type(clip_scale(g_all, spec.clipnorm))
        for a, b in segments:
            views = [s[a:b] for s in states]
            apply_rule(spec, params[a:b], grads[a:b] * scale, views, lr, t)

    def train_step(
        self,
        net,
        loss: LossSpec,
        spec: StepSpec,
        params,
        grads,
        states,
        segments,
        ws: Workspace,
        x,
        y,
        sample_weight,
        rows,
        lr: float,
        t: int,
        seed: int,
        step: int,
        metrics=(),
        totals=None,
    ) -> float:
        """One training step on the batch x, y, sample_weight (or on their ``rows``):
        forward (training mode, the Dropout masks of (seed, step)), the loss, and only
        if it is finite the metrics' batch sums (added to ``totals``), backward and the
        optimizer update. Returns the loss; a non-finite loss changes nothing."""
        if rows is not None:
            x, y = x[rows], y[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        out = self.forward(net, params, x, ws, True, seed, step)
        value = self.loss_grad(net, loss, params, ws, y, sample_weight)
        if not math.isfinite(value):
            return value
        for i, code in enumerate(metrics):
            totals[i] += metric_sum(code, out, y)
        self.backward(net, params, grads, ws, x)
        self.step(spec, params, grads, states, segments, lr, t)
        return value

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
