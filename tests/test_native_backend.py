"""The native backend against the reference backend, whole networks at a time.

forward / loss_grad / backward / step / predict for every activation and loss pair,
Dropout, frozen layers, layers without bias, regularizers; then the properties the
native backend promises on top: bitwise identical results for any thread count, no
allocation per batch, thread-safe predict. (The training session: test_session.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fastnn.backends import native
from fastnn.backends.reference import ReferenceBackend
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
    TrainingBuffers,
)

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason=f"{native.IMPORT_ERROR}")

if native.AVAILABLE:
    from fastnn.backends import _native

    LEVELS = _native.SIMD_LEVELS[: _native.SIMD_LEVELS.index(_native.simd_detected()) + 1]
else:
    LEVELS = ()

RTOL = {np.float64: 1e-10, np.float32: 1e-4}


def dense(units, act=Act.LINEAR, **options):
    return ("dense", units, act, options)


def dropout(rate):
    return ("dropout", rate)


def make_net(n_in, layers, dtype=np.float64, seed=0):
    """A NetSpec with its flat parameter buffer (W then b per Dense layer), random."""
    specs, offset, width = [], 0, n_in
    for item in layers:
        if item[0] == "dropout":
            specs.append(LayerSpec(LayerKind.DROPOUT, width, width, rate=item[1]))
            continue
        _, units, act, options = item
        use_bias = options.pop("use_bias", True)
        w_offset = offset
        offset += width * units
        b_offset = offset if use_bias else -1
        offset += units if use_bias else 0
        specs.append(
            LayerSpec(
                LayerKind.DENSE, width, units, act, w_offset=w_offset, b_offset=b_offset, **options
            )
        )
        width = units
    net = NetSpec(tuple(specs), offset, np.dtype(dtype))
    rng = np.random.default_rng(seed)
    params = (rng.normal(size=offset) * 0.4).astype(dtype)
    return net, params


def assert_close(actual, expected, dtype, what=""):
    """The dtype's relative tolerance, with an absolute floor at that fraction of the
    array's largest value (sums over the batch can cancel to ~0)."""
    expected = np.asarray(expected)
    rtol = RTOL[np.dtype(dtype).type]
    atol = rtol * float(np.max(np.abs(expected), initial=0.0)) + 1e-30
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def targets(loss, rng, n, k, dtype, labels=False):
    if labels:
        return rng.integers(0, k, size=n).astype(np.int64)
    if loss == Loss.CROSS_ENTROPY:
        return np.eye(k, dtype=dtype)[rng.integers(0, k, size=n)]
    if loss == Loss.KL_DIVERGENCE:
        t = rng.random((n, k))
        return (t / t.sum(axis=1, keepdims=True)).astype(dtype)
    if loss == Loss.BINARY_CROSS_ENTROPY:
        return rng.integers(0, 2, size=(n, k)).astype(dtype)
    return rng.normal(size=(n, k)).astype(dtype)


def train_both(net, params, loss, y, x, *, weights=None, spec=None, steps=2, batch=None, seed=11):
    """Run forward/loss_grad/backward/step `steps` times on both backends and check
    every intermediate result: outputs and pre-activations of every layer, masks, loss,
    dL/dz, gradients, parameters and optimizer state."""
    dtype = net.dtype.type
    spec = spec or StepSpec(Opt.ADAM)
    backends = (ReferenceBackend(), native.NativeBackend())
    segments = net.segments()
    state = []
    for backend in backends:
        ws = backend.workspace(net, batch or x.shape[0])
        grads = np.full(net.n_params, 7.0, dtype)  # frozen layers must keep this
        states = [
            np.full(net.n_params, spec.initial_state_value(i), dtype)
            for i in range(spec.n_states())
        ]
        state.append((backend, ws, params.copy(), grads, states))
    for t in range(1, steps + 1):
        results = []
        for backend, ws, p, grads, states in state:
            out = backend.forward(net, p, x, ws, True, seed, t)
            value = backend.loss_grad(net, loss, p, ws, y, weights)
            backend.backward(net, p, grads, ws, x)
            results.append((out.copy(), value, ws.dout[: x.shape[0]].copy(), grads.copy()))
            backend.step(spec, p, grads, states, segments, 0.01, t)
        (ref_out, ref_loss, ref_dout, ref_grads), (out, value, dout, grads) = results
        assert isinstance(value, float)
        (_, ref_ws, ref_p, _, ref_states), (_, ws, p, _, states) = state
        n = x.shape[0]
        for i in range(len(net.layers)):
            assert_close(ws.acts[i][:n], ref_ws.acts[i][:n], dtype, f"acts[{i}], step {t}")
            if ref_ws.pres[i] is not None:
                assert_close(ws.pres[i][:n], ref_ws.pres[i][:n], dtype, f"pres[{i}]")
            if ref_ws.masks[i] is not None:
                assert np.array_equal(ws.masks[i][:n], ref_ws.masks[i][:n])
        assert_close(out, ref_out, dtype, "forward output")
        np.testing.assert_allclose(value, ref_loss, rtol=RTOL[dtype], err_msg="loss")
        assert_close(dout, ref_dout, dtype, "dout")
        for i, layer in enumerate(net.layers):
            if layer.kind == LayerKind.DENSE:
                size = layer.n_in * layer.n_out
                w = slice(layer.w_offset, layer.w_offset + size)
                assert_close(grads[w], ref_grads[w], dtype, f"dW of layer {i}, step {t}")
                if layer.b_offset >= 0:
                    b = slice(layer.b_offset, layer.b_offset + layer.n_out)
                    assert_close(grads[b], ref_grads[b], dtype, f"db of layer {i}")
        assert np.array_equal(np.isnan(grads), np.isnan(ref_grads))
        assert_close(p, ref_p, dtype, f"params after step {t}")
        for got, expected in zip(states, ref_states):
            assert_close(got, expected, dtype, "optimizer state")
    return state


HIDDEN = [a for a in Act if a not in (Act.STEP,)]
HEADS = [  # (output activation, loss, labels)
    (Act.SOFTMAX, Loss.CROSS_ENTROPY, True),
    (Act.SOFTMAX, Loss.CROSS_ENTROPY, False),
    (Act.SOFTMAX, Loss.KL_DIVERGENCE, False),
    (Act.SIGMOID, Loss.BINARY_CROSS_ENTROPY, False),
    (Act.LINEAR, Loss.MSE, False),
    (Act.LINEAR, Loss.MAE, False),
    (Act.LINEAR, Loss.HUBER, False),
    (Act.RELU, Loss.MSE, False),
    (Act.TANH, Loss.HUBER, False),
    (Act.SIGMOID, Loss.MSE, False),
    (Act.SOFTPLUS, Loss.MAE, False),
    (Act.ELU, Loss.MSE, False),
    (Act.GELU, Loss.HUBER, False),
    (Act.LEAKY_RELU, Loss.MSE, False),
    (Act.SOFTMAX, Loss.MSE, False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("head", "loss_code", "labels"), HEADS)
def test_network_matches_reference(head, loss_code, labels, dtype):
    rng = np.random.default_rng(int(head) * 10 + int(loss_code))
    hidden = HIDDEN[(int(head) + int(loss_code)) % len(HIDDEN)]
    net, params = make_net(
        13,
        [
            dense(17, hidden, act_param=0.2),
            dropout(0.25),
            dense(11, Act.TANH),
            dense(5, head, act_param=0.1),
        ],
        dtype,
    )
    x = rng.normal(size=(9, 13)).astype(dtype)
    y = targets(loss_code, rng, 9, 5, dtype, labels)
    loss = LossSpec(loss_code, 0.8 if loss_code == Loss.HUBER else 0.0)
    train_both(net, params, loss, y, x, batch=12)


@pytest.fixture(params=LEVELS)
def simd(request):
    """Run the test at one SIMD level (GEMM and elementwise kernels), then restore."""
    before = _native.simd_level()
    _native.set_simd_level(request.param)
    yield request.param
    _native.set_simd_level(before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_hidden_activation_backpropagates(simd, hidden, dtype):
    rng = np.random.default_rng(int(hidden))
    net, params = make_net(7, [dense(19, hidden, act_param=0.3), dense(3, Act.SOFTMAX)], dtype)
    x = rng.normal(size=(6, 7)).astype(dtype)
    y = rng.integers(0, 3, size=6).astype(np.int64)
    train_both(net, params, LossSpec(Loss.CROSS_ENTROPY), y, x, steps=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_weights_regularizers_and_no_bias(dtype):
    rng = np.random.default_rng(3)
    net, params = make_net(
        10,
        [
            dense(16, Act.RELU, l2=0.01, use_bias=False),
            dense(8, Act.ELU, l1=0.002, l2=0.003, act_param=1.0),
            dense(4, Act.SOFTMAX, l1=0.01),
        ],
        dtype,
    )
    x = rng.normal(size=(20, 10)).astype(dtype)
    y = rng.integers(0, 4, size=20).astype(np.int64)
    weights = rng.random(20).astype(dtype)
    for spec in (
        StepSpec(Opt.SGD, momentum=0.9, nesterov=True, clipnorm=0.5),
        StepSpec(Opt.RMSPROP, momentum=0.3),
        StepSpec(Opt.ADAMW, weight_decay=0.01),
    ):
        train_both(net, params, LossSpec(Loss.CROSS_ENTROPY), y, x, weights=weights, spec=spec)


@pytest.mark.parametrize("frozen", [(0,), (2,), (0, 2), (4,)])
def test_frozen_layers_get_no_gradient(frozen):
    rng = np.random.default_rng(4)
    layers = [
        dense(12, Act.RELU),
        dropout(0.5),
        dense(9, Act.GELU),
        dense(9, Act.SIGMOID),
        dense(2, Act.SIGMOID),
    ]
    net, params = make_net(6, layers, np.float64)
    specs = list(net.layers)
    for i in frozen:
        specs[i] = replace(specs[i], trainable=False)
    net = replace(net, layers=tuple(specs))
    x = rng.normal(size=(8, 6))
    y = rng.integers(0, 2, size=(8, 2)).astype(np.float64)
    (_, (_, _, _, grads, _)) = train_both(
        net, params, LossSpec(Loss.BINARY_CROSS_ENTROPY), y, x, spec=StepSpec(Opt.SGD)
    )
    for i in frozen:
        layer = net.layers[i]
        stop = layer.b_offset + layer.n_out
        assert np.all(grads[layer.w_offset : stop] == 7.0)


def test_partial_batches_and_batch_one():
    rng = np.random.default_rng(5)
    net, params = make_net(5, [dense(8, Act.TANH), dense(3, Act.SOFTMAX)])
    for n in (1, 7, 16):
        x = rng.normal(size=(n, 5))
        y = rng.integers(0, 3, size=n).astype(np.int64)
        train_both(net, params, LossSpec(Loss.CROSS_ENTROPY), y, x, batch=16, steps=1)


def test_worked_example_one_neuron():
    """SPEC §3: inputs (0, 0.5, 1), weights (-1, -0.5, 0.5), bias 1, ReLU -> 1.25."""
    net, _ = make_net(3, [dense(1, Act.RELU)])
    params = np.array([-1.0, -0.5, 0.5, 1.0])
    out = native.NativeBackend().predict(net, params, np.array([[0.0, 0.5, 1.0]]))
    assert out.tolist() == [[1.25]]


def test_worked_example_mse():
    """SPEC §3: MSE of (1, 2, 0, 3) against (-1, -1, 0, 2) is 3.5."""
    net, _ = make_net(1, [dense(1)])
    backend = native.NativeBackend()
    ws = backend.workspace(net, 4)
    x = np.array([[1.0], [2.0], [0.0], [3.0]])
    backend.forward(net, np.array([1.0, 0.0]), x, ws, False, 0, 0)
    y = np.array([[-1.0], [-1.0], [0.0], [2.0]])
    assert backend.loss_grad(net, LossSpec(Loss.MSE), np.array([1.0, 0.0]), ws, y) == 3.5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_equals_forward_and_reference(dtype):
    rng = np.random.default_rng(6)
    net, params = make_net(
        20,
        [dense(33, Act.GELU), dropout(0.5), dense(300, Act.RELU), dense(7, Act.SOFTMAX)],
        dtype,
    )
    backend = native.NativeBackend()
    for n in (1, 3, 255, 256, 600):
        x = rng.normal(size=(n, 20)).astype(dtype)
        got = backend.predict(net, params, x)
        assert got.shape == (n, 7) and got.dtype == dtype
        assert_close(got, ReferenceBackend().predict(net, params, x), dtype)
        ws = backend.workspace(net, n)
        out = backend.forward(net, params, x, ws, False, 0, 0)
        np.testing.assert_allclose(got, out, rtol=10 * np.finfo(dtype).eps, atol=1e-30)


def test_predict_chunks_do_not_change_the_result():
    rng = np.random.default_rng(12)
    net, params = make_net(9, [dense(30, Act.SIGMOID), dense(4, Act.LINEAR)])
    x = rng.normal(size=(1000, 9))
    backend = native.NativeBackend()
    expected = ReferenceBackend().predict(net, params, x)
    for chunk in (1, 7, 256, 5000):
        assert_close(backend.predict(net, params, x, chunk), expected, np.float64)
    with pytest.raises(ValueError, match="chunk"):
        backend.predict(net, params, x, 0)


def test_forward_returns_a_view_of_the_workspace():
    net, params = make_net(4, [dense(3, Act.SIGMOID)])
    backend = native.NativeBackend()
    ws = backend.workspace(net, 8)
    out = backend.forward(net, params, np.ones((5, 4)), ws, False, 0, 0)
    assert out.base is ws.acts[-1] and out.shape == (5, 3) and ws.n == 5


def test_adam_is_bitwise_identical_for_one_and_two_threads():
    rng = np.random.default_rng(7)
    net, start = make_net(
        784, [dense(512, Act.RELU), dense(512, Act.RELU), dense(10, Act.SOFTMAX)], np.float32
    )
    x = rng.random((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=128).astype(np.int64)
    backend, spec = native.NativeBackend(), StepSpec(Opt.ADAM, clipnorm=5.0)
    before = _native.get_num_threads()
    finals = []
    try:
        for threads in (1, 2):
            _native.set_num_threads(threads)
            params, grads = start.copy(), np.zeros_like(start)
            states = [np.zeros_like(start), np.zeros_like(start)]
            ws = backend.workspace(net, 128)
            for t in range(1, 4):
                backend.forward(net, params, x, ws, True, 0, t)
                backend.loss_grad(net, LossSpec(Loss.CROSS_ENTROPY), params, ws, y)
                backend.backward(net, params, grads, ws, x)
                backend.step(spec, params, grads, states, net.segments(), 1e-3, t)
            finals.append(params)
    finally:
        _native.set_num_threads(before)
    assert np.array_equal(finals[0], finals[1])


@pytest.mark.parametrize("one_call", [False, True])
def test_training_allocates_nothing_per_batch(one_call):
    """After a warm-up, steps create no arrays: tracemalloc (which sees NumPy's buffers)
    records no growth, and no peak above a few small Python objects; with a session's
    train_step too (rows gathered, metrics summed)."""
    rng = np.random.default_rng(8)
    net, params = make_net(
        64,
        [dense(128, Act.RELU), dropout(0.2), dense(64, Act.GELU), dense(10, Act.SOFTMAX)],
        np.float32,
    )
    x = rng.random((96, 64), dtype=np.float32)
    y = rng.integers(0, 10, size=96).astype(np.int64)
    backend, spec, loss = (
        native.NativeBackend(),
        StepSpec(Opt.ADAM, clipnorm=1.0),
        LossSpec(Loss.CROSS_ENTROPY),
    )
    ws = backend.workspace(net, 96)
    grads = np.zeros_like(params)
    states = [np.zeros_like(params), np.zeros_like(params)]
    segments = net.segments()

    rows, metrics = np.arange(95, -1, -1), (Metric.ACCURACY, Metric.MAE)
    buffers = TrainingBuffers(params, grads, tuple(states))
    session = backend.session(net, loss, spec, buffers, 96, metrics, dropout_seed=3)
    session.bind_data(x, y)

    def train(first, count):
        for t in range(first, first + count):
            if one_call:
                session.train_step(rows, 1e-3, t, t)
                continue
            backend.forward(net, params, x, ws, True, 3, t)
            backend.loss_grad(net, loss, params, ws, y)
            backend.backward(net, params, grads, ws, x)
            backend.step(spec, params, grads, states, segments, 1e-3, t)

    train(1, 3)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        train(4, 300)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before <= 256, f"grew by {after - before} bytes"
    assert peak - before <= 2048, f"peaked {peak - before} bytes above the start"


def test_concurrent_predict_matches_sequential():
    rng = np.random.default_rng(9)
    net, params = make_net(
        50, [dense(64, Act.RELU), dense(32, Act.TANH), dense(4, Act.SOFTMAX)], np.float32
    )
    inputs = [rng.normal(size=(n, 50)).astype(np.float32) for n in (1, 17, 300, 1000)]
    backend = native.NativeBackend()
    expected = [backend.predict(net, params, x) for x in inputs]
    failures = []

    def worker(k):
        for _ in range(30):
            got = backend.predict(net, params, inputs[k])
            if not np.array_equal(got, expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_info_and_threads():
    info = native.info()
    assert set(info) >= {"simd", "simd_detected", "openmp", "threads"}
    assert info["simd"] in _native.SIMD_LEVELS and isinstance(info["openmp"], bool)
    before = native.get_num_threads()
    try:
        native.set_num_threads(1)
        assert native.get_num_threads() == 1 and native.info()["threads"] == 1
    finally:
        native.set_num_threads(before)


def test_workspace_follows_thread_count_changes():
    rng = np.random.default_rng(10)
    net, params = make_net(300, [dense(200, Act.RELU), dense(10, Act.SOFTMAX)], np.float32)
    backend = native.NativeBackend()
    ws = backend.workspace(net, 200)
    x = rng.random((200, 300), dtype=np.float32)
    before = native.get_num_threads()
    try:
        outs = []
        for threads in (1, 2, 1):
            native.set_num_threads(threads)
            outs.append(backend.forward(net, params, x, ws, False, 0, 0).copy())
    finally:
        native.set_num_threads(before)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_bad_arguments_get_clear_errors():
    net, params = make_net(4, [dense(3, Act.STEP), dense(2, Act.SOFTMAX)])
    other, _ = make_net(4, [dense(2)])
    backend = native.NativeBackend()
    ws = backend.workspace(net, 8)
    x = np.ones((5, 4))
    with pytest.raises(TypeError, match="params"):
        backend.forward(net, params.astype(np.float32), x, ws, False, 0, 0)
    with pytest.raises(ValueError, match="params"):
        backend.forward(net, params[:-1].copy(), x, ws, False, 0, 0)
    with pytest.raises(ValueError, match="x"):
        backend.forward(net, params, np.ones((5, 3)), ws, False, 0, 0)
    with pytest.raises(ValueError, match="x"):
        backend.forward(net, params, np.ones((9, 4)), ws, False, 0, 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.forward(net, params, np.ones((4, 5)).T, ws, False, 0, 0)
    with pytest.raises(TypeError, match="x"):
        backend.forward(net, params, [[1.0] * 4], ws, False, 0, 0)
    with pytest.raises(ValueError, match="different network"):
        backend.forward(other, np.zeros(other.n_params), x, ws, False, 0, 0)
    with pytest.raises(TypeError, match="workspace"):
        backend.forward(net, params, x, ReferenceBackend().workspace(net, 8), False, 0, 0)
    with pytest.raises(ValueError, match="forward"):
        backend.loss_grad(net, LossSpec(Loss.CROSS_ENTROPY), params, ws, np.zeros(5, np.int64))
    backend.forward(net, params, x, ws, True, 0, 1)
    with pytest.raises(ValueError, match="label"):
        backend.loss_grad(net, LossSpec(Loss.CROSS_ENTROPY), params, ws, np.full(5, 2))
    backend.loss_grad(net, LossSpec(Loss.CROSS_ENTROPY), params, ws, np.ones(5, np.int64))
    with pytest.raises(ValueError, match="step"):
        backend.backward(net, params, np.zeros_like(params), ws, x)
    ws = backend.workspace(other, 8)
    backend.forward(other, np.zeros(other.n_params), x, ws, False, 0, 0)
    with pytest.raises(ValueError, match="rows"):
        backend.backward(other, np.zeros(other.n_params), np.zeros(other.n_params), ws, x[:4])
    with pytest.raises(ValueError, match="grads"):
        backend.backward(other, np.zeros(other.n_params), np.zeros(3), ws, x)


# ------------------------------------------------------------------ from C alone

CSRC = Path(__file__).resolve().parents[1] / "csrc"
CC = os.environ.get("CC", "gcc").split()[0]
ISA_FLAGS = {
    "_avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"],
    "_avx2": ["-mavx2", "-mfma"],
}


def _compile(cc_args):
    result = subprocess.run(cc_args, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cc_args)}\n{result.stderr}"


@pytest.mark.skipif(shutil.which(CC) is None, reason=f"no C compiler ({CC})")
@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="x86-64 build flags")
def test_c_network_test_program(tmp_path):
    """csrc/tests/test_net.c: finite differences, predict, zero mallocs per step (counted
    by interposing malloc), 1 vs 2 threads."""
    omp = ["-fopenmp", "-DFASTNN_HAVE_OPENMP=1"]
    probe = tmp_path / "omp.c"
    probe.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
    serial = os.environ.get("FASTNN_NO_OPENMP", "").strip().lower() in {"1", "true", "yes", "on"}
    if serial or subprocess.run([CC, *omp, str(probe), "-o", str(tmp_path / "omp")]).returncode:
        omp = []
    # -O0: this is about behaviour (and compiles in seconds). Warnings are errors in the
    # test program; the library's own warnings are checked at the optimisation levels
    # it ships with (setup.py -O3 -Wall -Wextra, test_c_library.py -O2 -Werror).
    flags = [
        "-std=c99",
        "-O0",
        "-Wall",
        "-Wextra",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-DFASTNN_X86=1",
        f"-I{CSRC}",
        *omp,
    ]
    sources = [p for p in sorted(CSRC.rglob("*.c")) if "tests" not in p.relative_to(CSRC).parts]
    test = CSRC / "tests" / "test_net.c"
    jobs = []
    for index, src in enumerate([*sources, test]):
        isa = next((f for suffix, f in ISA_FLAGS.items() if src.stem.endswith(suffix)), [])
        strict = ["-Werror"] if src == test else []
        jobs.append([CC, *flags, *strict, *isa, "-c", str(src), "-o", str(tmp_path / f"{index}.o")])
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_compile, jobs))
    exe = tmp_path / "test_net"
    _compile([CC, *omp, *(job[-1] for job in jobs), "-lm", "-o", str(exe)])
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: network passes" in result.stdout
