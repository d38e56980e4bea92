"""The backend interface: the few whole-network operations the Model calls.

Both backends implement exactly these methods with these arguments; the Model never
does arithmetic itself. Arrays given to a backend are already validated by the Model:
C-contiguous, of the network's dtype, finite, with the right number of columns; labels
are int64 in range. One training step is::

    out  = backend.forward(net, params, x, ws, training=True, seed=seed, step=s)
    loss = backend.loss_grad(net, loss, params, ws, y, sample_weight)
    backend.backward(net, params, grads, ws, x)
    backend.step(spec, params, grads, states, segments, lr, t)

or, as Model.fit runs it, all of that in one call (which may also gather the batch's
rows, sum the training metrics, and skip the update when the loss is not finite)::

    loss = backend.train_step(net, loss, spec, params, grads, states, segments, ws,
                              x, y, sample_weight, rows, lr, t, seed, s, metrics, totals)

``params``/``grads``/``states[i]`` are flat 1-D buffers laid out as NetSpec describes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .spec import LossSpec, Metric, NetSpec, StepSpec


class Backend(Protocol):
    name: str
    # Whether predict raises ValueError itself on a NaN/inf in x (else the caller tests)
    predict_checks_finite: bool

    def workspace(self, net: NetSpec, batch: int):
        """Buffers for batches of up to ``batch`` rows, reused by every call below."""

    def forward(
        self,
        net: NetSpec,
        params: np.ndarray,
        x: np.ndarray,
        ws,
        training: bool,
        seed: int,
        step: int,
    ) -> np.ndarray:
        """Forward pass keeping what backprop needs; returns the output rows (a view
        into ws). With ``training``, Dropout layers draw their masks from (seed, step)."""

    def loss_grad(
        self,
        net: NetSpec,
        loss: LossSpec,
        params: np.ndarray,
        ws,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """Mean loss over the rows of the last forward (plus regularization penalties);
        writes dL/dz of the output layer into the workspace. ``y`` is int64 labels (n,)
        for cross_entropy, else targets (n, n_out) of the net's dtype."""

    def backward(self, net: NetSpec, params: np.ndarray, grads: np.ndarray, ws, x) -> None:
        """Write the gradients of every trainable Dense layer into ``grads`` (others are
        left untouched); ``x`` is the batch the forward pass ran on."""

    def step(
        self,
        spec: StepSpec,
        params: np.ndarray,
        grads: np.ndarray,
        states: list[np.ndarray],
        segments: np.ndarray,
        lr: float,
        t: int,
    ) -> None:
        """Apply one optimizer update, in place, to the [start, stop) ranges in
        ``segments``; ``t`` is the 1-based step count (Adam's bias correction)."""

    def train_step(
        self,
        net: NetSpec,
        loss: LossSpec,
        spec: StepSpec,
        params: np.ndarray,
        grads: np.ndarray,
        states: list[np.ndarray],
        segments: np.ndarray,
        ws,
        x: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        rows: np.ndarray | None,
        lr: float,
        t: int,
        seed: int,
        step: int,
        metrics: tuple[Metric, ...] = (),
        totals: np.ndarray | None = None,
    ) -> float:
        """One training step: forward (training), loss_grad, then, only if the loss is
        finite, the metrics, backward and step; returns the loss, and a non-finite one
        leaves params, grads, states and totals as they were.

        ``rows`` None: x, y, sample_weight are the batch; else an int64 array of indices
        and the batch is those rows of x, y, sample_weight (gathered by the backend).
        ``metrics``: spec.Metric codes whose sums over the batch are added to
        ``totals[i]`` (float64). The result is what the four calls give: on the native
        backend the same bits, whatever the number of threads."""

    def predict(self, net: NetSpec, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The network's output for every row of x (Dropout off); keeps no state, so
        several threads may call it at once."""
