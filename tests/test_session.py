"""The training session (base.TrainingSession) on both backends: train_step against the
four calls it stands for and against the reference; its split (compute_gradients, an
external reduction of grads, apply_gradients) against train_step, bit for bit; the
parts of a data-parallel batch against the whole; Model.training_session; and fit's
strategy hook driven by a split strategy.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import replace

import numpy as np
import pytest
from conftest import BACKENDS
from test_native_backend import RTOL, assert_close, dense, dropout, make_net

import fastnn as fn
from fastnn import training
from fastnn.backends import native
from fastnn.backends.reference import ReferenceBackend, metric_sum
from fastnn.backends.spec import Act, Loss, LossSpec, Metric, Opt, StepSpec, TrainingBuffers

if native.AVAILABLE:
    from fastnn.backends import _native

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason=f"{native.IMPORT_ERROR}")


def backends_by_name(name):
    return ReferenceBackend() if name == "numpy" else native.NativeBackend()


# ------------------------------------------------------------------ one call per step

OPTIMIZERS = {
    "sgd": StepSpec(Opt.SGD),
    "momentum": StepSpec(Opt.SGD, momentum=0.9),
    "nesterov": StepSpec(Opt.SGD, momentum=0.8, nesterov=True),
    "adam": StepSpec(Opt.ADAM),
    "adamw": StepSpec(Opt.ADAMW, weight_decay=0.05),
    "rmsprop": StepSpec(Opt.RMSPROP, momentum=0.5),
    "adagrad": StepSpec(Opt.ADAGRAD),
}
ALL_METRICS = (Metric.ACCURACY, Metric.BINARY_ACCURACY, Metric.MSE, Metric.MAE)


class Trainer:
    """One backend's parameters, gradients, optimizer state and metric totals, stepped
    by a training session (its train_step, or with `split` compute_gradients then
    apply_gradients) or by the four calls train_step stands for."""

    def __init__(self, backend, net, params, spec, batch, loss, metrics=ALL_METRICS, split=False):
        dtype = net.dtype.type
        self.backend, self.net, self.spec, self.loss = backend, net, spec, loss
        self.params, self.ws = params.copy(), backend.workspace(net, batch)
        self.batch, self.split, self._session, self._made_for = batch, split, None, None
        self.grads = np.full(net.n_params, 7.0, dtype)  # frozen layers must keep this
        self.states = [
            np.full(net.n_params, spec.initial_state_value(i), dtype)
            for i in range(spec.n_states())
        ]
        self.metrics, self.totals = metrics, np.zeros(len(metrics))
        self.segments = net.segments()

    def arrays(self):
        return [self.params, self.grads, *self.states, self.totals]

    def session(self):
        """The session for the current metrics and segments (made again when they change)."""
        made_for = (tuple(self.metrics), id(self.segments))
        if made_for != self._made_for:
            buffers = TrainingBuffers(self.params, self.grads, tuple(self.states))
            self._session = self.backend.session(
                self.net, self.loss, self.spec, buffers, self.batch, self.metrics,
                dropout_seed=5, segments=self.segments,
            )  # fmt: skip
            self._made_for = made_for
        return self._session

    def step(self, x, y, w, rows, t, lr=0.01):
        """One step on the batch x, y, w (rows None) or on their rows; Dropout step t."""
        session = self.session()
        session.bind_data(x, y, w)
        session.reset_totals()
        rows = slice(0, x.shape[0]) if rows is None else rows
        if self.split:
            value = session.compute_gradients(rows, t)
            if math.isfinite(value):
                session.apply_gradients(lr, t)
        else:
            value = session.train_step(rows, lr, t, t)
        self.totals += session.totals
        return value

    def four_calls(self, x, y, w, rows, t, lr=0.01):
        if rows is not None:
            x, y, w = x[rows], y[rows], None if w is None else w[rows]
        backend, net, p = self.backend, self.net, self.params
        out = backend.forward(net, p, x, self.ws, True, 5, t)
        value = backend.loss_grad(net, self.loss, p, self.ws, y, w)
        for i, code in enumerate(self.metrics):
            self.totals[i] += metric_sum(code, out, y)
        backend.backward(net, p, self.grads, self.ws, x)
        backend.step(self.spec, p, self.grads, self.states, self.segments, lr, t)
        return value


def compare_train_steps(net, params, loss, x, y, *, spec, batch, weights=None, shuffle=True):
    """train_step on both backends, and the four calls on the native one, over an epoch
    of batches: the native step gives the four calls' bits, and the reference's values;
    on each backend, the split step (compute_gradients + apply_gradients) gives
    train_step's bits. Returns the native Trainer."""
    dtype = net.dtype.type
    ref, got, spelled = (
        Trainer(backend, net, params, spec, batch, loss)
        for backend in (ReferenceBackend(), native.NativeBackend(), native.NativeBackend())
    )
    ref_split, got_split = (
        Trainer(backend, net, params, spec, batch, loss, split=True)
        for backend in (ReferenceBackend(), native.NativeBackend())
    )
    order = np.random.default_rng(4).permutation(x.shape[0])
    for t, start in enumerate(range(0, x.shape[0], batch), start=1):
        if shuffle:
            batch_args = (x, y, weights, order[start : start + batch])
        else:
            part = slice(start, start + batch)
            batch_args = (x[part], y[part], None if weights is None else weights[part], None)
        value = got.step(*batch_args, t)
        assert value == spelled.four_calls(*batch_args, t)
        assert value == got_split.step(*batch_args, t)
        ref_value = ref.step(*batch_args, t)
        assert ref_value == ref_split.step(*batch_args, t)
        np.testing.assert_allclose(value, ref_value, rtol=RTOL[dtype])
    for a, b in zip(got.arrays()[:-1], spelled.arrays()[:-1]):
        assert np.array_equal(a, b)
    for trainer, split in ((got, got_split), (ref, ref_split)):
        for a, b in zip(trainer.arrays(), split.arrays()):
            assert np.array_equal(a, b)
    names = ["params", "grads", *(f"states[{i}]" for i in range(spec.n_states())), "metrics"]
    for a, b, what in zip(got.arrays(), ref.arrays(), names):
        assert_close(a, b, dtype, what)
    assert_close(got.totals, spelled.totals, dtype, "metrics: kernel vs reference.metric_sum")
    return got


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clipnorm", [0.0, 0.5])
@pytest.mark.parametrize("rule", list(OPTIMIZERS))
def test_train_step_matches_the_four_calls_and_the_reference(rule, clipnorm, dtype):
    """Every optimizer, with and without clipnorm (fused into backprop without it), on a
    net with Dropout and a regularizer, shuffled batches gathered from sample-weighted
    rows, every metric."""
    rng = np.random.default_rng(1)
    net, params = make_net(
        12,
        [dense(20, Act.RELU, l2=0.01), dropout(0.3), dense(9, Act.TANH), dense(4, Act.SOFTMAX)],
        dtype,
    )
    x = rng.normal(size=(53, 12)).astype(dtype)
    y = rng.integers(0, 4, size=53).astype(np.int64)
    weights = rng.random(53).astype(dtype)
    spec = replace(OPTIMIZERS[rule], clipnorm=clipnorm)
    loss = LossSpec(Loss.CROSS_ENTROPY)
    compare_train_steps(net, params, loss, x, y, weights=weights, spec=spec, batch=16)


@pytest.mark.parametrize("frozen", [(0,), (2,), (0, 3), (3,)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_train_step_with_frozen_layers_and_targets(frozen, shuffle):
    """Frozen layers keep their weights and gradients; float targets rather than labels;
    contiguous batches as well as gathered ones."""
    rng = np.random.default_rng(2)
    layers = [dense(10, Act.GELU), dropout(0.2), dense(8, Act.SIGMOID), dense(3, Act.SIGMOID)]
    net, params = make_net(5, layers, np.float64)
    specs = list(net.layers)
    for i in frozen:
        specs[i] = replace(specs[i], trainable=False)
    net = replace(net, layers=tuple(specs))
    x = rng.normal(size=(30, 5))
    y = rng.integers(0, 2, size=(30, 3)).astype(np.float64)
    loss, spec = LossSpec(Loss.BINARY_CROSS_ENTROPY), StepSpec(Opt.ADAM)
    got = compare_train_steps(net, params, loss, x, y, spec=spec, batch=8, shuffle=shuffle)
    for i in frozen:
        layer = net.layers[i]
        part = slice(layer.w_offset, layer.b_offset + layer.n_out)
        assert np.all(got.grads[part] == 7.0)
        assert np.array_equal(got.params[part], params[part])


def test_train_step_updates_only_the_segments_it_is_given():
    """Segments other than the net's own (here: the last layer only, or a part of W) are
    updated after backprop as given, never layer by layer."""
    rng = np.random.default_rng(5)
    net, params = make_net(6, [dense(8, Act.RELU), dense(3, Act.SOFTMAX)], np.float32)
    x = rng.normal(size=(20, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=20).astype(np.int64)
    w = net.layers[1].w_offset  # the last layer's
    for segments in ([[w, net.n_params]], [[2, 20], [w, w + 10]]):
        segments = np.array(segments, np.int64)
        trainers = [
            Trainer(b, net, params, StepSpec(Opt.ADAM), 8, LossSpec(Loss.CROSS_ENTROPY))
            for b in (ReferenceBackend(), native.NativeBackend())
        ]
        for trainer in trainers:
            trainer.segments = segments
            for t in range(1, 4):
                trainer.step(x, y, None, np.arange(t, t + 8), t)
        (ref, got), outside = trainers, np.ones(net.n_params, bool)
        for a, b in segments:
            outside[a:b] = False
        assert np.array_equal(got.params[outside], params[outside])
        assert_close(got.params, ref.params, np.float32, "params")


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_train_step_changes_nothing_when_the_loss_is_not_finite(backend, split):
    """Nor does compute_gradients write a gradient (nor the metrics' sums)."""
    net, params = make_net(4, [dense(6, Act.RELU), dense(3, Act.SOFTMAX)], np.float32)
    params[-1] = np.nan  # a bias of the output layer
    trainer = Trainer(
        backends_by_name(backend),
        net,
        params,
        StepSpec(Opt.ADAM),
        4,
        LossSpec(Loss.CROSS_ENTROPY),
        split=split,
    )
    for state in trainer.states:
        state.fill(0.5)
    trainer.totals.fill(3.0)
    before = [a.copy() for a in trainer.arrays()]
    x, y = np.ones((10, 4), np.float32), np.zeros(10, np.int64)
    assert math.isnan(trainer.step(x, y, None, np.array([1, 2, 3]), 1))
    for now, then in zip(trainer.arrays(), before):
        assert np.array_equal(now, then, equal_nan=True)


def test_train_step_is_bitwise_identical_for_one_and_two_threads():
    rng = np.random.default_rng(7)
    net, start = make_net(
        784, [dense(256, Act.RELU), dense(128, Act.RELU), dense(10, Act.SOFTMAX)], np.float32
    )
    x = rng.random((600, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=600).astype(np.int64)
    batches = [rng.permutation(600)[:128] for _ in range(4)]
    specs = (StepSpec(Opt.ADAM), StepSpec(Opt.SGD, momentum=0.9, clipnorm=1.0))
    loss = LossSpec(Loss.CROSS_ENTROPY)
    before = _native.get_num_threads()
    results = {}
    try:
        for threads in (1, 2):
            _native.set_num_threads(threads)
            for spec in specs:
                trainer = Trainer(native.NativeBackend(), net, start, spec, 128, loss)
                for t, rows in enumerate(batches, start=1):
                    trainer.step(x, y, None, rows, t, lr=1e-3)
                results[threads, spec] = trainer.arrays()
    finally:
        _native.set_num_threads(before)
    for spec in specs:
        for one, two in zip(results[1, spec], results[2, spec]):
            assert np.array_equal(one, two)


def test_train_step_rejects_bad_arguments_before_writing():
    net, params = make_net(4, [dense(3, Act.SOFTMAX)])
    loss = LossSpec(Loss.CROSS_ENTROPY)
    trainer = Trainer(native.NativeBackend(), net, params, StepSpec(Opt.SGD), 4, loss, ())
    x, y = np.ones((6, 4)), np.zeros(6, np.int64)
    with pytest.raises(ValueError, match="rows"):
        trainer.step(x, y, None, np.array([0, 6]), 1)
    with pytest.raises(ValueError, match="rows"):
        trainer.step(x, y, None, np.array([-1]), 1)
    with pytest.raises(ValueError, match="rows"):
        trainer.step(x, y, None, np.arange(5), 1)  # more than the workspace's batch
    with pytest.raises(TypeError, match="rows"):
        trainer.step(x, y, None, np.array([0, 1], np.int32), 1)
    with pytest.raises(ValueError, match="y"):
        trainer.step(x, y[:5], None, np.array([0, 1]), 1)
    trainer.metrics, trainer.totals = (9,), np.zeros(1)
    with pytest.raises(ValueError, match="metric"):
        trainer.step(x, y, None, np.array([0, 1]), 1)
    assert np.array_equal(trainer.params, params)


# ------------------------------------------------------------------ data-parallel parts


def _parts_net(dtype):
    """Dropout (masks keyed by row position), an L2 penalty, a frozen-free stack."""
    layers = [dense(12, Act.RELU, l2=0.05), dropout(0.4), dense(7, Act.TANH), dense(3, Act.SOFTMAX)]
    return make_net(6, layers, dtype, seed=3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_parts_of_a_batch_sum_to_the_whole(backend, dtype):
    """What each rank of a data-parallel step computes: its rows' share of the global
    batch's loss (denominator = the global batch size), Dropout masks of its rows'
    positions (row_offset), the penalty on one rank only. Summed over the parts, loss,
    gradient and metric sums are the whole batch's, and the update from the summed
    gradient is the whole batch's update."""
    rng = np.random.default_rng(6)
    net, params = _parts_net(dtype)
    x = rng.normal(size=(40, 6)).astype(dtype)
    y = rng.integers(0, 3, size=40).astype(np.int64)
    weights = rng.random(40).astype(dtype)
    rows = rng.permutation(40)[:24]
    spec, loss = StepSpec(Opt.ADAM, clipnorm=2.0), LossSpec(Loss.CROSS_ENTROPY)
    metrics = (Metric.ACCURACY, Metric.MAE)
    b = backends_by_name(backend)

    def session():
        buffers = TrainingBuffers(params.copy(), np.zeros_like(params), (
            np.zeros_like(params), np.zeros_like(params)))  # fmt: skip
        made = b.session(net, loss, spec, buffers, 24, metrics, dropout_seed=9)
        made.bind_data(x, y, weights)
        return made

    whole, ranks = session(), session()
    whole_loss = whole.compute_gradients(rows, 4)
    cuts = [0, 5, 16, 24]
    losses, reduced, totals = [], np.zeros_like(params), np.zeros(2)
    for k, (a, c) in enumerate(zip(cuts, cuts[1:])):
        ranks.reset_totals()
        losses.append(
            ranks.compute_gradients(rows[a:c], 4, row_offset=a, denominator=24, penalty=k == 0)
        )
        reduced += ranks.grads  # the Allreduce
        totals += ranks.totals
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(sum(losses), whole_loss, rtol=rtol)
    assert_close(reduced, whole.grads, dtype, "summed gradients")
    assert np.array_equal(totals[:1], whole.totals[:1])  # counts: exact
    np.testing.assert_allclose(totals[1], whole.totals[1], rtol=rtol)
    ranks.grads[...] = reduced
    for session in (whole, ranks):
        session.apply_gradients(0.01, 1)
    assert_close(ranks.params, whole.params, dtype, "params after the update")


def test_dropout_masks_are_keyed_by_row_position():
    """A part's masks are the whole batch's rows at its row_offset: with every row
    weighted the same, a part from row 3 with row_offset 3 gives the gradient the whole
    batch's rows 3.. give; with row_offset 0 (the masks of rows 0..) it does not."""
    net, params = _parts_net(np.float64)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8).astype(np.int64)
    results = {}
    for name in BACKENDS:
        b = backends_by_name(name)
        buffers = TrainingBuffers(params.copy(), np.zeros_like(params), ())
        session = b.session(net, LossSpec(Loss.CROSS_ENTROPY), StepSpec(Opt.SGD), buffers, 8)
        session.bind_data(x, y)
        session.compute_gradients(slice(3, 8), 1, row_offset=3)
        keyed = session.grads.copy()
        session.compute_gradients(slice(3, 8), 1)
        results[name] = keyed, session.grads.copy()
        session.bind_data(x[3:], y[3:])  # the same rows as a batch of their own
        session.compute_gradients(slice(0, 5), 1, row_offset=3)
        assert np.array_equal(session.grads, keyed)
    for keyed, unkeyed in results.values():
        assert not np.allclose(keyed, unkeyed)
    if len(results) == 2:
        assert_close(results["native"][0], results["numpy"][0], np.float64, "native vs numpy")


def test_session_rejects_bad_arguments():
    net, params = make_net(4, [dense(3, Act.SOFTMAX)])
    b = native.NativeBackend()
    loss, spec = LossSpec(Loss.CROSS_ENTROPY), StepSpec(Opt.ADAM)
    states = (np.zeros_like(params), np.zeros_like(params))
    good = TrainingBuffers(params, np.zeros_like(params), states)
    with pytest.raises(ValueError, match="states"):
        b.session(net, loss, spec, replace(good, states=states[:1]), 4)
    with pytest.raises(ValueError, match="grads must not be the params"):
        b.session(net, loss, spec, replace(good, grads=params), 4)
    with pytest.raises(TypeError, match="grads"):
        b.session(net, loss, spec, replace(good, grads=np.zeros(params.size, np.float32)), 4)
    with pytest.raises(ValueError, match="loss code"):
        b.session(net, LossSpec(17), spec, good, 4)
    with pytest.raises(ValueError, match="segments"):
        b.session(net, loss, spec, good, 4, segments=np.array([[0, 99]]))
    session = b.session(net, loss, spec, good, 4)
    x, y = np.ones((6, 4)), np.zeros(6, np.int64)
    with pytest.raises(RuntimeError, match="bind_data"):
        session.train_step(slice(0, 4), 0.1, 1, 0)
    with pytest.raises(ValueError, match="X"):
        session.bind_data(np.ones((6, 5)), y)
    with pytest.raises(TypeError, match="X"):
        session.bind_data(np.ones((6, 4), np.float32), y)
    with pytest.raises(ValueError, match="sample_weight"):
        session.bind_data(x, y, np.ones(5))
    session.bind_data(x, y)
    with pytest.raises(ValueError, match="step 1"):
        session.train_step(slice(0, 4, 2), 0.1, 1, 0)
    with pytest.raises(ValueError, match="rows"):
        session.train_step(slice(5, 5), 0.1, 1, 0)
    with pytest.raises(TypeError, match="rows"):
        session.train_step([0, 1], 0.1, 1, 0)
    with pytest.raises(ValueError, match="t counts"):
        session.train_step(slice(0, 4), 0.1, 0, 0)
    with pytest.raises(ValueError, match="denominator"):
        session.compute_gradients(slice(0, 4), 0, denominator=0)
    with pytest.raises(ValueError, match="row_offset"):
        session.compute_gradients(slice(0, 4), 0, row_offset=-1)
    assert np.array_equal(session.params, params) and not session.grads.any()
    session.release_data()
    with pytest.raises(RuntimeError, match="bind_data"):
        session.compute_gradients(slice(0, 4), 0)
    bare = _native.TrainSession.__new__(_native.TrainSession)  # never initialised
    with pytest.raises(RuntimeError, match="initialised"):
        bare.bind_data(x, y)
    with pytest.raises(RuntimeError, match="initialised"):
        bare.apply_gradients(0.1, 1)
    with pytest.raises(RuntimeError, match="bind_data"):
        bare.train_step(slice(0, 4), 0.1, 1, 0)


# ------------------------------------------------------------------ through the Model


def _model(backend, **options):
    model = fn.Model(
        [fn.Dense(16, "relu"), fn.Dropout(0.3), fn.Dense(3, "softmax")],
        input_dim=5,
        seed=4,
        backend=backend,
        **options,
    )
    model.compile(loss="cross_entropy", optimizer=fn.optimizers.Adam(0.01), metrics=["accuracy"])
    return model


def _data(n=90):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_keeps_its_session_until_something_it_holds_changes(backend):
    model = _model(backend)
    session = model.training_session(32)
    assert model.training_session(32) is session
    assert session.params is model.params and session.grads.shape == model.params.shape
    assert model.training_session(16) is not session
    session = model.training_session(16)
    model.compile(loss="cross_entropy", optimizer="sgd", metrics=["accuracy"])
    assert model.training_session(16) is not session
    session = model.training_session(16)
    model.layers[0].trainable = False
    assert model.training_session(16) is not session
    with pytest.raises(ValueError, match="batch_size"):
        model.training_session(0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_leaves_no_training_data_in_the_kept_session(backend):
    model = _model(backend)
    X, y = _data()
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    alive = weakref.ref(X)
    del X
    assert alive() is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_session_of_ones_own_trains_as_fit_does(backend):
    """Model.training_session for steps of one's own: the same bits as fit."""
    X, y = _data()
    fitted, stepped = _model(backend), _model(backend)
    fitted.fit(X, y, epochs=1, batch_size=30, shuffle=False, verbose=0)
    session = stepped.training_session(30)
    session.bind_data(X, y)
    for t, start in enumerate(range(0, 90, 30), start=1):
        session.train_step(slice(start, start + 30), 0.01, t, stepped.steps_trained)
        stepped.optimizer.iterations += 1
        stepped.steps_trained += 1
    assert np.array_equal(stepped.params, fitted.params)


class _OneRank(training.Strategy):
    """fit's strategy hook driven through the split: compute_gradients then
    apply_gradients, nothing in between (a data-parallel run on one rank)."""

    def run_batch(self, session, rows, lr, t, dropout_step):
        loss = session.compute_gradients(rows, dropout_step)
        if math.isfinite(loss):
            session.apply_gradients(lr, t)
        return loss

    def epoch_sums(self, session, loss_sum, seen):
        return loss_sum, session.totals, seen


class _TwoRanks(_OneRank):
    """Two ranks played in one process: each half of the batch as a rank computes it,
    the gradients summed (the Allreduce), then one update."""

    def run_batch(self, session, rows, lr, t, dropout_step):
        if isinstance(rows, slice):
            rows = np.arange(rows.start, rows.stop)
        half, n = len(rows) // 2, len(rows)
        if half == 0:
            return super().run_batch(session, rows, lr, t, dropout_step)
        first = session.compute_gradients(rows[:half], dropout_step, denominator=n)
        reduced = session.grads.copy()
        second = session.compute_gradients(
            rows[half:], dropout_step, row_offset=half, denominator=n, penalty=False
        )
        session.grads[...] += reduced
        if math.isfinite(first + second):
            session.apply_gradients(lr, t)
        return first + second


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_through_a_split_strategy(backend, shuffle):
    """The split with its defaults gives fit's bits; split across two ranks, fit's
    results up to rounding (the gradient is summed in two parts)."""
    X, y = _data()
    runs = {}
    for name, strategy in (("local", None), ("one", _OneRank()), ("two", _TwoRanks())):
        model = _model(backend, dtype="float64")
        model.compile(
            loss="cross_entropy",
            optimizer=fn.optimizers.SGD(0.05, momentum=0.9),
            metrics=["accuracy"],
        )
        history = model.fit(
            X, y, epochs=2, batch_size=16, shuffle=shuffle, verbose=0, strategy=strategy
        )
        runs[name] = history.history, model.params.copy()
    assert runs["one"][0] == runs["local"][0]
    assert np.array_equal(runs["one"][1], runs["local"][1])
    np.testing.assert_allclose(runs["two"][1], runs["local"][1], rtol=1e-9, atol=1e-12)
    for key, values in runs["local"][0].items():
        np.testing.assert_allclose(runs["two"][0][key], values, rtol=1e-9, err_msg=key)


def test_fit_rejects_a_strategy_without_its_methods():
    model = _model("numpy")
    with pytest.raises(TypeError, match="strategy"):
        model.fit(*_data(), epochs=1, verbose=0, strategy=object())
