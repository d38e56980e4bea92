"""The backend interface: the few whole-network operations the Model calls.

Both backends implement exactly these methods with these arguments; the Model never
does arithmetic itself. Arrays given to a backend are already validated by the Model:
C-contiguous, of the network's dtype, finite, with the right number of columns; labels
are int64 in range. One training step is::

    out  = backend.forward(net, params, x, ws, training=True, seed=seed, step=s)
    loss = backend.loss_grad(net, loss, params, ws, y, sample_weight)
    backend.backward(net, params, grads, ws, x)
    backend.step(spec, params, grads, states, segments, lr, t)

``params``/``grads``/``states[i]`` are flat 1-D buffers laid out as NetSpec describes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .spec import LossSpec, NetSpec, StepSpec


class Backend(Protocol):
    name: str

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

    def predict(self, net: NetSpec, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The network's output for every row of x (Dropout off); keeps no state, so
        several threads may call it at once."""
