"""The Model's hot operations on each backend, as the training loop calls them.

* dense forward / backward of one layer, for every layer shape of W1 and W2: forward is
  x W + b and the activation (the output layer's softmax included); backward is the
  gradients dW = xᵀ dZ and db (a first layer: no dX product, which the train step has);
* the loss (softmax + cross-entropy and its gradient) of W1's and W2's output;
* one optimizer update over W1's parameters (SGD-momentum, Adam);
* one whole training step (forward, loss, backward, update) of W1 and W2;
* predict on W1's network: 1 row (the latency path) and 10,000 rows.

Each benchmark's group names the operation and shape, so native and numpy sit side by
side: ``python -m pytest bench/bench_model.py --benchmark-group-by=group``.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn

W1 = (784, 256, 128, 10)
W2 = (784, 2048, 2048, 10)
# (batch, n_in, n_out, activation) of every layer of W1 (batch 128) and W2 (batch 512)
LAYERS = [
    (batch, n_in, n_out, "softmax" if n_out == 10 else "relu")
    for batch, sizes in ((128, W1), (512, W2))
    for n_in, n_out in zip(sizes, sizes[1:])
]


def _ids(layer) -> str:
    batch, n_in, n_out, act = layer
    return f"{batch}x{n_in}-{n_out}-{act}"


def mlp(sizes, backend: str, optimizer=None) -> fn.Model:
    """A ReLU MLP with a softmax head over ``sizes``, compiled with cross-entropy."""
    layers = [fn.Dense(units, "relu") for units in sizes[1:-1]]
    layers.append(fn.Dense(sizes[-1], "softmax"))
    model = fn.Model(layers, input_dim=sizes[0], seed=0, backend=backend)
    model.compile(loss="cross_entropy", optimizer=optimizer or fn.optimizers.Adam(1e-3))
    return model


class Step:
    """A model's training step split into the backend calls fit makes, on fixed data."""

    def __init__(self, model: fn.Model, batch: int) -> None:
        rng = np.random.default_rng(0)
        self.model = model
        self.backend = model.backend_impl()
        self.net = model.net()
        self.ws = self.backend.workspace(self.net, batch)
        self.x = rng.random((batch, self.net.n_in), dtype=np.float32)
        self.y = rng.integers(0, self.net.n_out, batch)
        self.grads = np.zeros_like(model.params)
        self.segments = self.net.segments()
        model.optimizer.build(model.params.size, model.dtype)
        self.rule = model.optimizer.step_spec()

    def forward(self):
        return self.backend.forward(self.net, self.model.params, self.x, self.ws, True, 0, 0)

    def loss(self) -> float:
        spec = self.model.loss.spec
        return self.backend.loss_grad(self.net, spec, self.model.params, self.ws, self.y)

    def backward(self) -> None:
        self.backend.backward(self.net, self.model.params, self.grads, self.ws, self.x)

    def update(self) -> None:
        states = self.model.optimizer.states
        self.backend.step(self.rule, self.model.params, self.grads, states, self.segments, 1e-3, 1)

    def all(self) -> None:
        self.forward()
        self.loss()
        self.backward()
        self.update()


@pytest.mark.parametrize("layer", LAYERS, ids=_ids)
def test_dense_forward(benchmark, backend_name, layer):
    batch, n_in, n_out, act = layer
    model = fn.Model([fn.Dense(n_out, act)], input_dim=n_in, seed=0, backend=backend_name)
    model.compile(loss="cross_entropy" if act == "softmax" else "mse", optimizer="sgd")
    step = Step(model, batch)
    benchmark.group = f"dense forward {_ids(layer)}"
    benchmark(step.forward)


@pytest.mark.parametrize("layer", LAYERS, ids=_ids)
def test_dense_backward(benchmark, backend_name, layer):
    batch, n_in, n_out, act = layer
    model = fn.Model([fn.Dense(n_out, act)], input_dim=n_in, seed=0, backend=backend_name)
    model.compile(loss="cross_entropy" if act == "softmax" else "mse", optimizer="sgd")
    step = Step(model, batch)
    step.y = np.zeros((batch, n_out), np.float32) if act != "softmax" else step.y
    step.forward()
    step.loss()
    benchmark.group = f"dense backward (dW, db) {_ids(layer)}"
    benchmark(step.backward)


@pytest.mark.parametrize("sizes, batch", [(W1, 128), (W2, 512)], ids=["W1", "W2"])
def test_softmax_cross_entropy(benchmark, backend_name, sizes, batch):
    step = Step(mlp(sizes, backend_name), batch)
    step.forward()
    benchmark.group = f"softmax + cross-entropy + gradient {batch}x{sizes[-1]}"
    benchmark(step.loss)


@pytest.mark.parametrize("optimizer", ["sgd-momentum", "adam"])
def test_optimizer_update(benchmark, backend_name, optimizer):
    rule = fn.optimizers.SGD(0.01, momentum=0.9) if optimizer != "adam" else None
    step = Step(mlp(W1, backend_name, rule), 128)
    step.all()
    benchmark.group = f"optimizer update {optimizer}, {step.model.params.size:,} parameters"
    benchmark(step.update)


@pytest.mark.parametrize(
    "sizes, batch, optimizer",
    [(W1, 128, "sgd-momentum"), (W1, 128, "adam"), (W2, 512, "adam")],
    ids=["W1-sgd", "W1-adam", "W2-adam"],
)
def test_train_step(benchmark, backend_name, sizes, batch, optimizer):
    rule = fn.optimizers.SGD(0.01, momentum=0.9) if optimizer != "adam" else None
    step = Step(mlp(sizes, backend_name, rule), batch)
    step.all()
    benchmark.group = f"train step {'-'.join(map(str, sizes))} batch {batch} {optimizer}"
    benchmark(step.all)


@pytest.mark.parametrize("rows", [1, 10_000])
def test_predict(benchmark, backend_name, rows):
    model = mlp(W1, backend_name)
    x = np.random.default_rng(0).random((rows, W1[0]), dtype=np.float32)
    model.predict(x)
    benchmark.group = f"predict W1, {rows:,} rows"
    benchmark(model.predict, x)
