"""fnn_net_predict's chunk-parallel way (one pool dispatch per call, each thread running
whole chunks through the network with serial products, fnn_sgemm_packed_b /
fnn_dgemm_packed_b): the same bits as one thread, the NumPy reference's values, and the
first bad row of x whichever chunk holds it."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from test_native_backend import assert_close, dense, dropout, make_net

import fastnn as fn
from fastnn.backends import native
from fastnn.backends.reference import ReferenceBackend
from fastnn.backends.spec import Act

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason=f"{native.IMPORT_ERROR}")


@pytest.fixture
def threads():
    before = fn.get_num_threads()
    yield
    fn.set_num_threads(before)


def predict_at(threads_count, net, params, x, chunk):
    fn.set_num_threads(threads_count)
    return native.NativeBackend().predict(net, params, x, chunk)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 17, 1000])
@pytest.mark.parametrize("chunk", [1, 4, 256])
def test_chunks_in_parallel_match_one_thread_and_reference(threads, dtype, n, chunk):
    rng = np.random.default_rng(n + chunk)
    net, params = make_net(
        70,
        [dense(300, Act.RELU), dropout(0.3), dense(33, Act.TANH), dense(10, Act.SOFTMAX)],
        dtype,
    )
    x = rng.normal(size=(n, 70)).astype(dtype)
    one = predict_at(1, net, params, x, chunk)
    for count in (2, 3, 4):
        assert np.array_equal(predict_at(count, net, params, x, chunk), one)
    assert_close(one, ReferenceBackend().predict(net, params, x), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_first_layer_takes_the_packed_path_in_parallel(threads, dtype):
    """784-256-128-10 (W3's network): the first layer's chunks pack, the others not."""
    rng = np.random.default_rng(3)
    net, params = make_net(
        784, [dense(256, Act.RELU), dense(128, Act.RELU), dense(10, Act.SOFTMAX)], dtype
    )
    x = rng.random(size=(1000, 784)).astype(dtype)
    one = predict_at(1, net, params, x, 256)
    assert np.array_equal(predict_at(2, net, params, x, 256), one)
    assert_close(one, ReferenceBackend().predict(net, params, x), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_predict_of_non_contiguous_rows(threads, dtype):
    model = fn.Model(
        [fn.Dense(40, activation="relu"), fn.Dense(5, activation="softmax")],
        seed=1,
        input_dim=23,
        dtype=dtype,
    )
    rng = np.random.default_rng(4)
    big = rng.normal(size=(2000, 50)).astype(dtype)
    x = big[::2, 3:26]  # strided rows and columns
    assert not x.flags.c_contiguous
    fn.set_num_threads(1)
    one = model.predict(x)
    fn.set_num_threads(2)
    assert np.array_equal(model.predict(x), one)
    assert np.array_equal(model.predict(np.ascontiguousarray(x)), one)


@pytest.mark.parametrize("bad_row", [0, 5, 511, 999])
def test_first_bad_row_whichever_chunk_holds_it(threads, bad_row):
    net, params = make_net(12, [dense(20, Act.RELU), dense(3, Act.LINEAR)], np.float32)
    x = np.random.default_rng(5).normal(size=(1000, 12)).astype(np.float32)
    x[bad_row, 7] = np.nan
    if bad_row + 300 < 1000:
        x[bad_row + 300, 2] = np.inf  # a later chunk's bad row does not win
    for count in (1, 2):
        fn.set_num_threads(count)
        with pytest.raises(ValueError, match=rf"first at index \({bad_row}, 7\)"):
            native.NativeBackend().predict(net, params, x, 16)


PACKED_CHECK = r"""
import os
import subprocess
import sys

import numpy as np
import fastnn as fn
from fastnn.backends import native
from fastnn.backends.reference import ReferenceBackend
from fastnn.backends.spec import Act
from test_native_backend import assert_close, dense, dropout, make_net

for dtype in (np.float32, np.float64):
    net, params = make_net(
        45, [dense(33, Act.RELU), dropout(0.2), dense(10, Act.SIGMOID), dense(3, Act.SOFTMAX)],
        dtype,
    )
    rng = np.random.default_rng(8)
    for n in (1, 3, 17, 1000):
        x = rng.normal(size=(n, 45)).astype(dtype)
        fn.set_num_threads(1)
        one = native.NativeBackend().predict(net, params, x, 16)
        fn.set_num_threads(2)
        assert np.array_equal(native.NativeBackend().predict(net, params, x, 16), one)
        assert_close(one, ReferenceBackend().predict(net, params, x), dtype)
print("ok")
"""


@pytest.mark.parametrize("path", ["direct", "packed"])
def test_packed_weights_on_every_layer(path):
    """FASTNN_GEMM_PATH=packed: every layer's weights are packed once per call
    (fnn_gemm_pack_b, fnn_sgemm_packed_b / fnn_dgemm_packed_b) at awkward widths (33,
    10, 3); =direct: none are."""
    env = {
        **os.environ,
        "FASTNN_GEMM_PATH": path,
        "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), *sys.path]),
    }
    result = subprocess.run(
        [sys.executable, "-c", PACKED_CHECK], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
