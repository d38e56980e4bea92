"""Each native kernel against its NumPy twin in reference.py (SPEC §4).

float64 must agree to 1e-10 relative and float32 to 1e-4, on every shape (1..300,
primes, batch 1) and at every SIMD level this CPU has. Dropout masks must agree bit for
bit, and nothing may depend on the thread count.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn.backends import native
from fastnn.backends import reference as ref
from fastnn.backends.spec import (
    Act,
    LayerKind,
    LayerSpec,
    Loss,
    LossSpec,
    Metric,
    NetSpec,
    Opt,
    StepSpec,
    Workspace,
    mix64,
)

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason=f"{native.IMPORT_ERROR}")

if native.AVAILABLE:
    from fastnn.backends import _native

    LEVELS = _native.SIMD_LEVELS[: _native.SIMD_LEVELS.index(_native.simd_detected()) + 1]
else:
    LEVELS = ()

DTYPES = (np.float64, np.float32)
RTOL = {np.float64: 1e-10, np.float32: 1e-4}
PRIMES = (2, 3, 5, 7, 11, 13, 17, 31, 61, 127, 257, 293)
SMOOTH = tuple(a for a in Act if a not in (Act.STEP, Act.LINEAR))
HYPOTHESIS = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

sizes = st.one_of(st.integers(1, 300), st.sampled_from(PRIMES))


@pytest.fixture(params=LEVELS)
def simd(request):
    """Run the test at one SIMD level, then restore the detected one."""
    before = _native.simd_level()
    _native.set_simd_level(request.param)
    yield request.param
    _native.set_simd_level(before)


@pytest.fixture
def threads():
    """Restore the thread count a test changes."""
    before = _native.get_num_threads()
    yield
    _native.set_num_threads(before)


def assert_close(actual, expected, dtype, scale: float = 0.0, floor: float = 0.0):
    """Relative agreement at the dtype's tolerance. `scale` sets an absolute floor as a
    fraction of the largest |expected| (for sums that can cancel to ~0); values below the
    smallest normal number may differ (the kernels flush e^x to zero there). `floor` is
    an absolute floor in units of the tolerance."""
    expected = np.asarray(expected)
    rtol = RTOL[np.dtype(dtype).type]
    tiny = float(np.finfo(dtype).tiny)
    atol = rtol * (scale * float(np.max(np.abs(expected), initial=0.0)) + floor) + 4 * tiny
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def draw_matrix(data, dtype, spread=4.0):
    rows = data.draw(st.one_of(st.just(1), sizes), label="rows")
    cols = data.draw(sizes, label="cols")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(rows, cols)) * spread).astype(dtype), rng


# ------------------------------------------------------------------ activations


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(Act))
@given(data=st.data())
@HYPOTHESIS
def test_activation_forward(simd, act, dtype, data):
    z, _ = draw_matrix(data, dtype)
    # GELU in the far negative tail is a tiny difference of rounded terms on each side
    # (the kernel's series, the reference's double erfc cast to the dtype): the floor
    # scales with the largest value.
    scale = 1.0 if act == Act.GELU else 0.0
    if act != Act.SOFTMAX:  # elementwise: any shape is one row of values
        got = _native.act_forward(act, z.ravel(), 0.3)
        assert_close(got, ref.act_forward(act, z, 0.3).ravel(), dtype, scale)
    assert_close(_native.act_forward(act, z, 0.3), ref.act_forward(act, z, 0.3), dtype, scale)


def test_gelu_is_accurate_in_both_tails(simd):
    """GELU = z Phi(z) against Phi from math.erfc (no cancellation) down to z = -8.4;
    below, Phi(z) < 2e-17 and the kernel, like the reference, gives 0."""
    z = np.concatenate([np.linspace(-38, 10, 4801), [-1e-300, 0.0, 1e-8, 0.999, 1.0, 1.001]])
    expected = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in z])
    got = _native.act_forward(Act.GELU, z)
    tail = z < -6 * math.sqrt(2)
    np.testing.assert_allclose(got[~tail], expected[~tail], rtol=1e-13, atol=1e-300)
    assert np.all(np.abs(got[tail]) <= 1e-15)
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    slope = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in z]) + z * pdf
    got = _native.act_grad(Act.GELU, None, z, np.ones_like(z))
    np.testing.assert_allclose(got, slope, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", [a for a in Act if a != Act.STEP])
@given(data=st.data())
@HYPOTHESIS
def test_activation_grad(simd, act, dtype, data):
    z, rng = draw_matrix(data, dtype)
    a = ref.act_forward(act, z, 0.3)
    da = rng.normal(size=z.shape).astype(dtype)
    expected = ref.act_grad(act, a, z, da, 0.3)
    got = _native.act_grad(act, a, z, da, 0.3)
    if act == Act.SOFTMAX:
        # a_j (da_j - sum_k a_k da_k) cancels where da_j is near the row's sum: each side's
        # rounding is then relative to the terms, a_j (|da_j| + sum_k a_k |da_k|), not to
        # the result.
        rtol = RTOL[np.dtype(dtype).type]
        terms = a * (np.abs(da) + np.sum(a * np.abs(da), axis=1, keepdims=True))
        atol = rtol * terms + 4 * float(np.finfo(dtype).tiny)
        excess = np.abs(got - expected) - (atol + rtol * np.abs(expected))
        worst = np.unravel_index(np.argmax(excess), excess.shape)
        assert excess[worst] <= 0, f"at {worst}: {got[worst]!r}, expected {expected[worst]!r}"
        return
    # gelu' = Phi(z) + z phi(z) has a root: where its terms cancel, both sides carry their
    # own rounding, so the floor scales with |dL/dz|.
    scale = 1.0 if act == Act.GELU else 0.0
    assert_close(got, expected, dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", SMOOTH)
def test_activations_over_the_whole_range(simd, act, dtype):
    """Tiny, huge and underflowing arguments: no NaN/inf, reference values (results below
    the smallest normal number may flush to zero)."""
    top = 700.0 if dtype == np.float64 else 85.0
    z = np.concatenate(
        [np.linspace(-top - 60, top, 4001), [0.0, -0.0, 1e-300, -1e-300, 1e-9, -1e-9, 0.34657]]
    ).astype(dtype)[None, :]
    a = ref.act_forward(act, z, 1.0)
    got = _native.act_forward(act, z, 1.0)
    assert np.all(np.isfinite(got))
    assert_close(got, a, dtype, 1.0 if act == Act.GELU else 0.0)  # see test_activation_forward
    da = np.random.default_rng(0).normal(size=z.shape).astype(dtype)
    expected = ref.act_grad(act, a, z, da, 1.0)
    got = _native.act_grad(act, a, z, da, 1.0)
    assert np.all(np.isfinite(got))
    scale = 1.0 if act in (Act.SOFTMAX, Act.GELU) else 0.0  # cancellation, as above
    assert_close(got, expected, dtype, scale)


def test_leaky_and_elu_use_their_alpha():
    z = np.array([[-2.0, -0.5, 0.0, 1.5]])
    for act in (Act.LEAKY_RELU, Act.ELU):
        for alpha in (0.01, 0.2, 1.7):
            assert_close(
                _native.act_forward(act, z, alpha), ref.act_forward(act, z, alpha), np.float64
            )


def test_step_has_no_gradient():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="step"):
        _native.act_grad(Act.STEP, a, a, a)


# ------------------------------------------------------------------ losses

PAIRS = [  # (loss, output activation)
    (Loss.CROSS_ENTROPY, Act.SOFTMAX),
    (Loss.KL_DIVERGENCE, Act.SOFTMAX),
    (Loss.BINARY_CROSS_ENTROPY, Act.SIGMOID),
    *[(loss, act) for loss in (Loss.MSE, Loss.MAE, Loss.HUBER) for act in Act if act != Act.STEP],
    (Loss.CROSS_ENTROPY, Act.SIGMOID),  # non-canonical pairs: dL/da times act'
    (Loss.BINARY_CROSS_ENTROPY, Act.TANH),
]


def reference_loss(loss, act, a, z, y, weights):
    """ReferenceBackend.loss_grad on a one-layer net whose output is (a, z)."""
    n, k = a.shape
    layer = LayerSpec(LayerKind.DENSE, 1, k, act, 0.3, w_offset=0, b_offset=-1)
    net = NetSpec((layer,), k, a.dtype)
    ws = Workspace(net, n)
    ws.acts[0][:] = a
    ws.pres[0][:] = z
    ws.n = n
    value = ref.ReferenceBackend().loss_grad(net, loss, np.zeros(k, a.dtype), ws, y, weights)
    return value, ws.dout


def targets_for(loss, act, rng, n, k, dtype, labels):
    if labels:
        return rng.integers(0, k, size=n).astype(np.int64)
    if loss in (Loss.CROSS_ENTROPY, Loss.KL_DIVERGENCE):
        t = rng.random((n, k)) ** 3
        return (t / t.sum(axis=1, keepdims=True)).astype(dtype)
    if loss == Loss.BINARY_CROSS_ENTROPY:
        return rng.integers(0, 2, size=(n, k)).astype(dtype)
    return rng.normal(size=(n, k)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("loss", "act"), PAIRS)
@given(data=st.data())
@HYPOTHESIS
def test_loss(loss, act, dtype, data):
    """(loss.c is one baseline build; its act' calls are covered at every level above.)"""
    z, rng = draw_matrix(data, dtype, spread=data.draw(st.sampled_from([0.5, 3.0, 30.0])))
    n, k = z.shape
    labels = loss == Loss.CROSS_ENTROPY and data.draw(st.booleans(), label="labels")
    y = targets_for(loss, act, rng, n, k, dtype, labels)
    weights = rng.random(n).astype(dtype) if data.draw(st.booleans(), label="weights") else None
    spec = LossSpec(loss, 0.7 if loss == Loss.HUBER else 0.0)
    a = ref.act_forward(act, z, 0.3)
    expected_loss, expected_grad = reference_loss(spec, act, a, z, y, weights)
    got, grad = _native.loss_grad(spec, int(act), a, z, y, weights, 0.3)
    assert isinstance(got, float)
    # A loss is a sum of terms of size ~1 that may cancel (or round to 0 in float32).
    assert_close(got, expected_loss, dtype, floor=1.0)
    # dL/dz sums terms of size up to |dL/da| * |act'| (|act'| <= ~1.3 here), which may
    # cancel: the absolute floor is set by that size.
    _, dl_da = ref.loss_terms(spec, act, a, z, y)
    biggest = float(np.max(np.abs(dl_da))) * (1.0 if weights is None else float(weights.max()))
    assert_close(grad, expected_grad, dtype, scale=1.0, floor=2 * biggest / n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_losses_stay_finite_for_extreme_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-3e4, -3e4, 3e4], [80.0, 90.0, -100.0]], dtype)
    for loss, act in ((Loss.CROSS_ENTROPY, Act.SOFTMAX), (Loss.BINARY_CROSS_ENTROPY, Act.SIGMOID)):
        a = ref.act_forward(act, z)
        y = np.array([1, 0, 2]) if loss == Loss.CROSS_ENTROPY else np.ones_like(z)
        value, grad = _native.loss_grad(LossSpec(loss), int(act), a, z, y)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        expected_loss, expected_grad = reference_loss(LossSpec(loss), act, a, z, y, None)
        assert_close(value, expected_loss, dtype, floor=1.0)
        assert_close(grad, expected_grad, dtype, scale=1.0)


def test_loss_rejects_bad_labels_and_arrays():
    a = np.full((2, 3), 1 / 3)
    ce, soft = LossSpec(Loss.CROSS_ENTROPY), int(Act.SOFTMAX)
    with pytest.raises(ValueError, match="label"):
        _native.loss_grad(ce, soft, a, a, np.array([0, 3]), None)
    with pytest.raises(TypeError, match="int64"):
        _native.loss_grad(ce, soft, a, a, np.array([0, 1], np.int32), None)
    with pytest.raises(ValueError, match="y"):
        _native.loss_grad(ce, soft, a, a, np.array([0, 1, 2]), None)
    with pytest.raises(TypeError, match="z"):
        _native.loss_grad(ce, soft, a, a.astype(np.float32), a, None)
    with pytest.raises(ValueError, match="sample_weight"):
        _native.loss_grad(ce, soft, a, a, np.array([0, 1]), np.ones(3))


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code", list(Metric))
@pytest.mark.parametrize("k", [1, 2, 7])
@pytest.mark.parametrize("labels", [True, False])
def test_metric_sums(code, k, labels, dtype):
    """The metric kernel against reference.metric_sum; ties, NaN and 0.5 included."""
    rng = np.random.default_rng(k * 10 + int(code))
    n = 37
    out = rng.random((n, k)).astype(dtype)
    out[0] = 0.5  # a tie (the first maximum wins) and the 0.5 threshold
    out[1, -1] = np.nan  # NaN counts as the largest
    if labels:
        y = rng.integers(0, max(k, 2) if k == 1 else k, size=n).astype(np.int64)
    else:
        y = rng.random((n, k)).astype(dtype)
        y[2] = 0.5
    errors = code in (Metric.MSE, Metric.MAE)
    if errors:  # sums of errors: compared without the NaN row
        finite = np.isfinite(out).all(axis=1)
        out, y = out[finite], y[finite]
    expected = ref.metric_sum(code, out, y)
    got = _native.metric_sum(int(code), out, y)
    # errors are summed in double here, in the dtype by NumPy; counts are exact
    assert got == pytest.approx(expected, rel=RTOL[dtype] if errors else 1e-12)


# ------------------------------------------------------------------ optimizers

RULES = {
    "sgd": StepSpec(Opt.SGD),
    "momentum": StepSpec(Opt.SGD, momentum=0.9),
    "nesterov": StepSpec(Opt.SGD, momentum=0.8, nesterov=True),
    "adam": StepSpec(Opt.ADAM),
    "adamw": StepSpec(Opt.ADAMW, weight_decay=0.05, beta1=0.8, eps=1e-6),
    "rmsprop": StepSpec(Opt.RMSPROP, rho=0.85),
    "rmsprop_momentum": StepSpec(Opt.RMSPROP, momentum=0.5),
    "adagrad": StepSpec(Opt.ADAGRAD, initial_accumulator=0.2),
}


def fresh_state(spec, size, dtype):
    return [np.full(size, spec.initial_state_value(i), dtype) for i in range(spec.n_states())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clipnorm", [0.0, 0.5])
@pytest.mark.parametrize("rule", list(RULES))
@given(data=st.data())
@HYPOTHESIS
def test_optimizer_step(simd, rule, clipnorm, dtype, data):
    spec = StepSpec(**{**RULES[rule].__dict__, "clipnorm": clipnorm})
    lengths = data.draw(st.lists(sizes, min_size=1, max_size=3), label="segments")
    gaps = data.draw(
        st.lists(st.integers(0, 5), min_size=len(lengths) + 1, max_size=len(lengths) + 1),
        label="gaps",
    )
    bounds, at = [], gaps[0]
    for length, gap in zip(lengths, gaps[1:]):
        bounds.append((at, at + length))
        at += length + gap
    segments = np.array(bounds, np.int64)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    p_ref = rng.normal(size=at).astype(dtype)
    p_nat = p_ref.copy()
    s_ref, s_nat = fresh_state(spec, at, dtype), fresh_state(spec, at, dtype)
    for t in range(1, 4):
        g = rng.normal(size=at).astype(dtype)
        ref.ReferenceBackend().step(spec, p_ref, g, s_ref, segments, 0.01 * t, t)
        native.NativeBackend().step(spec, p_nat, g, s_nat, segments, 0.01 * t, t)
    if not clipnorm:  # the same operations in the same order: the same bits
        for got, expected in zip([p_nat, *s_nat], [p_ref, *s_ref]):
            assert np.array_equal(got, expected)
    # With clipnorm the factor may differ in its last bit (a differently ordered norm);
    # momentum sums such terms, which can cancel: floors scale with each array's size.
    assert_close(p_nat, p_ref, dtype, scale=1.0)
    for got, expected in zip(s_nat, s_ref):
        assert_close(got, expected, dtype, scale=1.0)


def test_sgd_worked_example():
    """SPEC §3: w = 5, gradient 16, lr 0.1: one step gives 3.4."""
    p = np.array([5.0])
    native.NativeBackend().step(
        StepSpec(Opt.SGD), p, np.array([16.0]), [], np.array([[0, 1]]), 0.1, 1
    )
    assert p[0] == pytest.approx(3.4, abs=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_norm(dtype):
    rng = np.random.default_rng(5)
    g = rng.normal(size=100_003).astype(dtype)
    segments = np.array([[0, 40_000], [40_001, 100_003]], np.int64)
    picked = np.concatenate([g[a:b] for a, b in segments]).astype(np.float64)
    assert_close(_native.grad_norm(g, segments), np.sqrt(picked @ picked), dtype)


@pytest.mark.parametrize("rule", ["adam", "momentum", "rmsprop_momentum"])
def test_optimizer_is_bitwise_identical_for_any_thread_count(threads, rule):
    spec = StepSpec(**{**RULES[rule].__dict__, "clipnorm": 1.0})
    size = 3_000_017  # many chunks, a ragged last one
    rng = np.random.default_rng(1)
    grads = rng.normal(size=size).astype(np.float32)
    segments = np.array([[3, 1_000_000], [1_000_100, size]], np.int64)
    results = []
    for n_threads in (1, 2):
        _native.set_num_threads(n_threads)
        params = np.ones(size, np.float32)
        states = fresh_state(spec, size, np.float32)
        for t in (1, 2):
            native.NativeBackend().step(spec, params, grads, states, segments, 1e-3, t)
        results.append((params, *states))
    for one, two in zip(*results):
        assert np.array_equal(one, two)


STATEFUL = [name for name, spec in RULES.items() if spec.n_states()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", STATEFUL)
def test_optimizer_state_never_holds_denormals(simd, rule, dtype):
    """A state value below the smallest normal number is stored as 0: the states stay 0
    or normal, and the two backends, doing the same operations, agree bit for bit."""
    spec, tiny = RULES[rule], float(np.finfo(dtype).tiny)
    scales = np.array([0.0, 0.3, 0.99, 1.0, 1.7, 3.0, 12.0, 1e3, 1e6, 1e30])
    start = np.concatenate([scales, -scales, np.linspace(-2, 2, 13)]) * tiny
    start[-13:] /= tiny  # a few ordinary values
    size = start.size
    gradients = [np.zeros(size), np.full(size, tiny / 8), -start]
    results = []
    for backend in (ref.ReferenceBackend(), native.NativeBackend()):
        params = np.linspace(-1, 1, size).astype(dtype)
        squares = {Opt.ADAM: 1, Opt.ADAMW: 1, Opt.RMSPROP: 0, Opt.ADAGRAD: 0}.get(spec.kind)
        states = [np.abs(start) if i == squares else start for i in range(spec.n_states())]
        states = [state.astype(dtype) for state in states]
        for t in range(1, 31):
            g = gradients[t % 3].astype(dtype)
            backend.step(spec, params, g, states, np.array([[0, size]]), 1e-3, t)
            for state in states:
                assert np.all((state == 0) | (np.abs(state) >= tiny)), f"step {t}"
        results.append((params, *states))
    for got, expected in zip(results[1], results[0]):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_moments_of_a_dead_weight_decay_to_exactly_zero(dtype):
    """Adam's moments with a zero gradient reach 0 in a bounded number of steps, through
    the normal numbers only, identically on both backends."""
    spec, tiny = StepSpec(Opt.ADAM), np.finfo(dtype).tiny
    segments = np.array([[0, 40]])
    finals = []
    for backend in (ref.ReferenceBackend(), native.NativeBackend()):
        params = np.ones(40, dtype)
        states = [np.full(40, 1e3 * tiny, dtype), np.full(40, 1e9 * tiny, dtype)]
        zero = np.zeros(40, dtype)
        for t in range(1, 400):
            backend.step(spec, params, zero, states, segments, 1e-3, t)
        finals.append(states)
    for states in finals:
        assert np.all(states[0] == 0)
        assert np.all((states[1] == 0) | (states[1] >= tiny))
    assert np.array_equal(finals[0][1], finals[1][1])


def test_step_rejects_bad_arguments():
    backend = native.NativeBackend()
    spec = StepSpec(Opt.ADAM)
    p = np.zeros(10, np.float32)
    g = np.zeros(10, np.float32)
    states = fresh_state(spec, 10, np.float32)
    segments = np.array([[0, 10]], np.int64)
    with pytest.raises(TypeError, match="grads"):
        backend.step(spec, p, g.astype(np.float64), states, segments, 0.1, 1)
    with pytest.raises(ValueError, match="states"):
        backend.step(spec, p, g, states[:1], segments, 0.1, 1)
    with pytest.raises(ValueError, match="segments"):
        backend.step(spec, p, g, states, np.array([[0, 11]], np.int64), 0.1, 1)
    with pytest.raises(ValueError, match="segments"):
        backend.step(spec, p, g, states, np.array([[5, 8], [2, 3]], np.int64), 0.1, 1)
    with pytest.raises(ValueError, match="t counts"):
        backend.step(spec, p, g, states, segments, 0.1, 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.step(spec, np.zeros(20, np.float32)[::2], g, states, segments, 0.1, 1)


# ------------------------------------------------------------------ dropout


@pytest.mark.parametrize(
    ("seed", "step", "layer", "shape", "rate"),
    [
        (0, 0, 0, (1, 1), 0.5),
        (42, 7, 3, (128, 512), 0.5),
        (2**63 + 5, 2**40, 1, (3, 17), 0.1),
        (-1, 1, 2, (31, 29), 0.9),
        (123456789, 99, 0, (2, 300), 0.0),
        (7, 3, 5, (1, 257), 1 / 3),
    ],
)
def test_dropout_masks_are_bit_identical(simd, seed, step, layer, shape, rate):
    expected = ref.dropout_mask(seed, step, layer, shape, rate)
    got = _native.dropout_mask(seed, step, layer, shape, rate)
    assert got.dtype == np.uint8 and got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_dropout_mask_keeps_about_one_minus_rate():
    mask = _native.dropout_mask(3, 1, 0, (1000, 100), 0.3)
    assert abs(mask.mean() - 0.7) < 0.01


def test_mix64_matches_spec():
    for x in (0, 1, 2**64 - 1, 0x9E3779B97F4A7C15, 123456789123456789):
        assert _native.mix64(x) == mix64(x)
