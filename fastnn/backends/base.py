"""The backend interface: the few whole-network operations the Model calls.

Both backends implement exactly these methods with these arguments; the Model never
does arithmetic itself. Arrays given to a backend are already validated by the Model:
C-contiguous, of the network's dtype, finite, with the right number of columns; labels
are int64 in range. ``params``/``grads``/``states[i]`` are flat 1-D buffers laid out
as NetSpec describes.

Training goes through a session, bound once per fit (``Model.training_session``)::

    session = backend.session(net, loss, step_spec, buffers, batch, metrics,
                              dropout_seed=seed)
    session.bind_data(X, y, sample_weight)         # per fit
    session.reset_totals()                         # per epoch
    loss = session.train_step(rows, lr, t, s)      # per batch: one native call

or, where the gradients are reduced across workers between backward and the update
(data-parallel training; the same bits as train_step in one process)::

    loss = session.compute_gradients(rows, s, row_offset=r0, denominator=global_batch,
                                     penalty=rank == 0)
    allreduce(session.grads)                       # in place, outside the session
    session.apply_gradients(lr, t)

The native session is the C struct ``fnn_train_step`` with every per-fit pointer
filled in: per batch only the rows, lr, t and the Dropout step cross into C.

Outside training (Model.gradients, forward_trace, evaluate), the passes one by one::

    out  = backend.forward(net, params, x, ws, training, seed, step)
    loss = backend.loss_grad(net, loss, params, ws, y, sample_weight)
    backend.backward(net, params, grads, ws, x)
    backend.step(spec, params, grads, states, segments, lr, t)
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .spec import LossSpec, Metric, NetSpec, StepSpec, TrainingBuffers


class TrainingSession(Protocol):
    """One fit's training state on a backend: the net, a workspace for batches of up to
    ``batch`` rows, the model's buffers (used in place, never copied), the loss, the
    optimizer's rule, the training metrics and the Dropout seed.

    ``rows`` (per batch) is an int64 array of indices into the bound data (gathered by
    the backend) or a ``slice`` of contiguous rows (read in place); 1 to ``batch`` rows.
    ``dropout_step`` keys the batch's Dropout masks (the model's steps_trained).
    """

    grads: np.ndarray  # the flat gradient buffer apply_gradients reads (to Allreduce)
    # its [start, stop) ranges the optimizer updates, int64 (s, 2), in layer order:
    # net.segments(), adjacent trainable layers merged (one range when all train)
    trainable_segments: np.ndarray
    totals: np.ndarray  # float64: each metric's sum over the rows stepped since reset

    def bind_data(self, X: np.ndarray, y: np.ndarray, sample_weight=None) -> None:
        """The training rows: X (n, n_in) (a np.memmap is fine), y int64 labels (n,) or
        targets (n, n_out), sample_weight (n,) or None; kept until release_data."""

    def release_data(self) -> None:
        """Forget the bound rows (fit calls it at its end: a cached session keeps no
        training data alive)."""

    def reset_totals(self) -> None:
        """Every metric's sum to 0."""

    def train_step(self, rows, lr: float, t: int, dropout_step: int) -> float:
        """One step: forward (training), the loss, and only if it is finite the metrics'
        sums, backward and the optimizer update (t counts steps from 1). Returns the mean
        loss (+ the regularization penalty); a non-finite one changes nothing. The same
        bits as compute_gradients followed by apply_gradients."""

    def compute_gradients(
        self,
        rows,
        dropout_step: int,
        *,
        row_offset: int = 0,
        denominator: float | None = None,
        penalty: bool = True,
    ) -> float:
        """train_step up to the update: returns (sum of these rows' losses) /
        denominator (None: the number of rows), + the penalty when ``penalty``; adds the
        metrics' sums to totals and, if that loss is finite, writes the gradient (of the
        same quantity) into grads, else writes none. ``row_offset``: these rows'
        position in the global batch, which keys their Dropout masks; a data-parallel
        rank passes it with denominator = the global batch size, and exactly one rank
        passes penalty=True, so that the ranks' gradients sum to the global batch's."""

    def apply_gradients(self, lr: float, t: int) -> None:
        """The update from grads as they are now (e.g. after an Allreduce): clipnorm
        over all of them, then the rule over trainable_segments."""


class Backend(Protocol):
    name: str
    # Whether predict raises ValueError itself on a NaN/inf in x (else the caller tests)
    predict_checks_finite: bool

    def session(
        self,
        net: NetSpec,
        loss: LossSpec,
        step_spec: StepSpec,
        buffers: TrainingBuffers,
        batch: int,
        metrics: tuple[Metric, ...] = (),
        *,
        dropout_seed: int = 0,
        segments: np.ndarray | None = None,
    ) -> TrainingSession:
        """A training session for batches of up to ``batch`` rows (see TrainingSession);
        ``segments`` (default net.segments()) are the ranges the optimizer updates."""

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

    def metric_sum(self, code: Metric, out: np.ndarray, y: np.ndarray) -> float:
        """A metric's sum over the rows of ``out`` against labels or targets ``y``."""

    def predict(self, net: NetSpec, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The network's output for every row of x (Dropout off); keeps nothing, so
        several threads may call it at once."""
