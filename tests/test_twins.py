"""Every native kernel has a NumPy twin of the same name (reference.KERNELS), and they
agree on one case each; the backends and their training sessions offer the same methods.

The twins are found by name: a function added to the compiled module (other than the
runtime controls and the whole-network passes listed below) fails here until it has a
twin in reference.KERNELS and a case in CASES. The thorough cross-checks (every shape,
dtype, SIMD level) are in test_native_kernels.py, test_gemm.py, test_native_backend.py
and test_session.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from fastnn.backends import native, reference
from fastnn.backends.spec import Act, Loss, LossSpec, Metric, Opt, StepSpec

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason=f"{native.IMPORT_ERROR}")

# What the compiled module holds besides single kernels: the runtime controls, and the
# whole-network passes, whose twins are the backends' methods (compared below and in
# test_native_backend.py).
RUNTIME = {
    "simd_detected",
    "simd_level",
    "set_simd_level",
    "openmp_enabled",
    "set_num_threads",
    "get_num_threads",
    "bf16_detected",
    "bf16_level",
    "set_bf16_level",
}
NETWORK_PASSES = {
    "net_forward": "forward",
    "net_loss_grad": "loss_grad",
    "net_backward": "backward",
    "net_predict": "predict",
}


def native_kernels() -> list[str]:
    """The compiled module's public functions that are single kernels."""
    if not native.AVAILABLE:
        return []
    from fastnn.backends import _native

    functions = [
        name
        for name, value in vars(_native).items()
        if not name.startswith("_") and callable(value) and not isinstance(value, type)
    ]
    return sorted(set(functions) - RUNTIME - set(NETWORK_PASSES))


def _rng():
    return np.random.default_rng(3)


def _matrix(dtype, rows=5, cols=7):
    return _rng().normal(size=(rows, cols)).astype(dtype)


def _step_case(dtype):
    rng = _rng()
    params = rng.normal(size=40).astype(dtype)
    return dict(
        spec=StepSpec(Opt.ADAM, clipnorm=0.5),
        params=params,
        grads=rng.normal(size=40).astype(dtype),
        states=[np.zeros_like(params), np.zeros_like(params)],
        segments=np.array([[2, 17], [20, 40]], np.int64),
        lr=0.01,
        t=3,
    )


# name -> dtype -> (keyword arguments, which of them the kernel changes in place or None)
CASES = {
    "gemm": lambda dtype: (
        dict(a=_matrix(dtype, 5, 7), b=_matrix(dtype, 6, 7), trans_b=True, act="tanh"),
        None,
    ),
    "act_forward": lambda dtype: (dict(act=Act.SOFTPLUS, z=_matrix(dtype), param=0.0), None),
    "act_grad": lambda dtype: (
        dict(act=Act.SIGMOID, a=np.abs(_matrix(dtype)) / 9, z=None, da=_matrix(dtype)),
        None,
    ),
    "loss_grad": lambda dtype: (
        dict(
            loss=LossSpec(Loss.HUBER, 0.8),
            act=Act.TANH,
            a=np.tanh(_matrix(dtype)),
            z=_matrix(dtype),
            y=_matrix(dtype) * 0.1,
            sample_weight=np.linspace(0.5, 1.5, 5).astype(dtype),
            denominator=12,
        ),
        None,
    ),
    "metric_sum": lambda dtype: (
        dict(code=Metric.ACCURACY, out=_matrix(dtype), y=np.arange(5, dtype=np.int64)),
        None,
    ),
    "step": lambda dtype: (_step_case(dtype), "params"),
    "grad_norm": lambda dtype: (
        dict(grads=_matrix(dtype).ravel(), segments=np.array([[1, 9], [12, 30]], np.int64)),
        None,
    ),
    "dropout_mask": lambda dtype: (
        dict(seed=4, step=9, layer=2, shape=(6, 11), rate=0.3, first=17),
        None,
    ),
    "mix64": lambda dtype: (dict(x=2**64 - 5), None),
    # bf16: float32 in, whatever dtype the case is run for (test_bf16.py: bit for bit)
    "round_bf16": lambda dtype: (dict(x=_matrix(np.float32)), None),
    "bf16_bits": lambda dtype: (dict(x=_matrix(np.float32)), None),
    "bf16_to_float32": lambda dtype: (
        dict(bits=np.array([0, 0x3F80, 0x8000, 0x7FC0, 0xFF80, 0x0001], np.uint16)),
        None,
    ),
}


def test_every_native_kernel_has_a_twin_of_the_same_name():
    kernels = native_kernels()
    assert kernels, "no kernels found in the compiled module"
    missing = [name for name in kernels if name not in reference.KERNELS]
    assert not missing, f"native kernels without a NumPy twin in reference.KERNELS: {missing}"
    assert sorted(native.KERNELS) == kernels, "native.KERNELS must list every kernel"
    assert not set(kernels) - set(CASES), "a kernel without a case here"


@pytest.mark.parametrize("name", native_kernels())
def test_kernel_and_twin_take_the_same_arguments(name):
    def parameters(function):
        return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]

    assert parameters(native.KERNELS[name]) == parameters(reference.KERNELS[name])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", native_kernels())
def test_kernel_and_twin_agree(name, dtype):
    results = []
    for kernels in (native.KERNELS, reference.KERNELS):
        kwargs, changed = CASES[name](dtype)
        value = kernels[name](**kwargs)
        results.append(value if changed is None else kwargs[changed])
    got, want = results
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want))):
        if isinstance(b, np.ndarray) and b.dtype.kind in "iu":
            assert np.array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3)


def _public_methods(cls) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, callable) if not name.startswith("_")}


def test_the_backends_and_their_sessions_offer_the_same_methods():
    assert _public_methods(native.NativeBackend) == _public_methods(reference.ReferenceBackend)
    from fastnn.backends import _native

    assert _public_methods(_native.TrainSession) == _public_methods(reference.ReferenceSession)
    for name, method in NETWORK_PASSES.items():
        assert hasattr(native.NativeBackend, method), name
