"""JAX on the CPU with a jitted train step (the whole step: forward, loss, gradient and
update in one XLA program). The training data is put on the device once and each step
gathers its rows inside the program. XLA's thread pools ignore the thread flags; the
worker limits JAX with the process's CPU affinity instead."""

from __future__ import annotations

import numpy as np

from . import Peer, Unavailable

try:
    import jax
    import jax.numpy as jnp
except ImportError as error:
    raise Unavailable(f"{error} (pip install jax jaxlib)") from None


def _logits(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def _loss(params, x, y):
    logp = jax.nn.log_softmax(_logits(params, x))
    return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()


def _sgd_step(opt):
    def step(params, state, X, y, idx):
        (velocity,) = state
        loss, grads = jax.value_and_grad(_loss)(params, X[idx], y[idx])
        velocity = jax.tree.map(lambda v, g: opt.momentum * v - opt.lr * g, velocity, grads)
        params = jax.tree.map(lambda p, v: p + v, params, velocity)
        return params, (velocity,), loss

    return step


def _adam_step(opt):
    def step(params, state, X, y, idx):
        m, v, t = state
        loss, grads = jax.value_and_grad(_loss)(params, X[idx], y[idx])
        t = t + 1
        m = jax.tree.map(lambda m, g: m + (1 - opt.beta1) * (g - m), m, grads)
        v = jax.tree.map(lambda v, g: v + (1 - opt.beta2) * (g * g - v), v, grads)
        lr_t = opt.lr * jnp.sqrt(1 - opt.beta2**t) / (1 - opt.beta1**t)
        params = jax.tree.map(lambda p, m, v: p - lr_t * m / (jnp.sqrt(v) + opt.eps), params, m, v)
        return params, (m, v, t), loss

    return step


class JaxPeer(Peer):
    def __init__(self, threads: int) -> None:
        jax.config.update("jax_platforms", "cpu")

    def versions(self) -> dict:
        return {"jax": jax.__version__, "jaxlib": jax.lib.__version__}

    @staticmethod
    def _params(weights):
        return [
            (jnp.asarray(weights[i]), jnp.asarray(weights[i + 1]))
            for i in range(0, len(weights), 2)
        ]

    def trainer(self, weights, optimizer, batch: int):
        params = self._params(weights)

        def zeros():
            return jax.tree.map(jnp.zeros_like, params)

        if optimizer.name == "sgd":
            state, step = (zeros(),), _sgd_step(optimizer)
        else:
            state, step = (zeros(), zeros(), jnp.zeros((), jnp.int32)), _adam_step(optimizer)
        step = jax.jit(step, donate_argnums=(0, 1))
        rng = np.random.default_rng(0)
        live = {"params": params, "state": state, "X": None}

        def epoch(X: np.ndarray, y: np.ndarray):
            if live["X"] is not X:  # onto the device once per data set
                live.update(X=X, Xd=jnp.asarray(X), yd=jnp.asarray(y))
            Xd, yd = live["Xd"], live["yd"]
            order = rng.permutation(X.shape[0]).astype(np.int32)
            params, state, losses = live["params"], live["state"], []
            for start in range(0, X.shape[0], batch):
                idx = order[start : start + batch]
                params, state, loss = step(params, state, Xd, yd, idx)
                losses.append(loss * idx.shape[0])
            total = float(jnp.sum(jnp.stack(losses)))  # waits for the last step
            live["params"], live["state"] = params, state
            return None, total / X.shape[0]

        return epoch

    def predictor(self, weights):
        params = self._params(weights)
        forward = jax.jit(lambda params, x: jax.nn.softmax(_logits(params, x), axis=1))
        return lambda x: np.asarray(forward(params, x))

    def sgemm(self, n: int):
        rng = np.random.default_rng(0)
        a, b = (jnp.asarray(rng.random((n, n), dtype=np.float32)) for _ in range(2))
        dot = jax.jit(jnp.dot)
        return lambda: dot(a, b).block_until_ready()
