"""ONNX export: the exported graph, run by onnxruntime, computes what model.predict does."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import fastnn as fn  # noqa: E402
from fastnn.onnx_export import GELU_OPSET  # noqa: E402

HIDDEN_ACTIVATIONS = [
    "linear",
    "relu",
    fn.activations.LeakyReLU(0.2),
    "sigmoid",
    "tanh",
    fn.activations.ELU(0.7),
    "gelu",
    "softplus",
    "step",
]
HEADS = ["softmax", "sigmoid", "linear"]


def _run(path, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X})[0]


def _model(hidden, head, dtype, backend, n_in=6, seed=0):
    model = fn.Model(
        [
            fn.Dense(16, hidden),
            fn.Dropout(0.3),
            fn.Dense(8, hidden, use_bias=False),
            fn.Dense(4, head),
        ],
        input_dim=n_in,
        seed=seed,
        dtype=dtype,
        backend=backend,
    )
    # Non-trivial biases (they start at zero).
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, fn.Dense) and layer.use_bias:
            layer.b = rng.normal(0, 0.5, layer.units)
    return model


def _name(activation) -> str:
    return activation if isinstance(activation, str) else activation.name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS, ids=_name)
def test_every_activation_matches_predict(tmp_path, backend, hidden, dtype):
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(37, 6)) * 3).astype(dtype)
    for head in HEADS:
        model = _model(hidden, head, dtype, backend)
        path = tmp_path / f"{_name(hidden)}-{head}.onnx"
        model.to_onnx(path)
        np.testing.assert_allclose(_run(path, X), model.predict(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [17, GELU_OPSET])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_as_operator_and_as_erf_expression(tmp_path, opset, dtype):
    model = _model("gelu", "linear", dtype, "numpy")
    proto = model.to_onnx(tmp_path / "gelu.onnx", opset=opset)
    ops = {node.op_type for node in proto.graph.node}
    native_gelu = opset >= GELU_OPSET and dtype == "float32"
    assert ("Gelu" in ops) == native_gelu and ("Erf" in ops) != native_gelu
    X = np.random.default_rng(2).normal(size=(50, 6)).astype(dtype) * 4
    np.testing.assert_allclose(
        _run(tmp_path / "gelu.onnx", X), model.predict(X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trained_model_on_real_data(tmp_path, backend, dtype):
    (X, y), (X_test, _) = fn.datasets.load_default()
    model = fn.Model(
        [fn.Dense(32, "relu"), fn.Dropout(0.2), fn.Dense(10, "softmax")],
        seed=0,
        dtype=dtype,
        backend=backend,
    )
    model.compile("cross_entropy", fn.optimizers.Adam(1e-2))
    model.fit(X, y, epochs=3, batch_size=64, verbose=0)
    model.to_onnx(tmp_path / "digits.onnx")
    X_test = X_test.astype(dtype)
    out = _run(tmp_path / "digits.onnx", X_test)
    np.testing.assert_allclose(out, model.predict(X_test), rtol=1e-5, atol=1e-5)
    assert (out.argmax(1) == model.predict_classes(X_test)).all()


def test_graph_shape_names_and_dynamic_batch(tmp_path):
    model = _model("relu", "softmax", "float32", "numpy")
    proto = model.to_onnx(tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    (graph_input,) = proto.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "input" and dims[0].dim_param == "batch" and dims[1].dim_value == 6
    assert proto.graph.output[0].name == "output"
    ops = [node.op_type for node in proto.graph.node]
    assert ops == ["Gemm", "Relu", "MatMul", "Relu", "Gemm", "Softmax"]  # no Dropout
    for rows in (1, 1000):
        X = np.ones((rows, 6), np.float32)
        assert _run(tmp_path / "m.onnx", X).shape == (rows, 4)


def test_custom_names_and_returned_proto_without_a_file():
    model = _model("tanh", "sigmoid", "float32", "numpy")
    proto = model.to_onnx(None, input_name="pixels", output_name="scores")
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    X = np.zeros((2, 6), np.float32)
    (out,) = session.run(["scores"], {"pixels": X})
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-6)


def test_errors_name_the_problem(tmp_path):
    unbuilt = fn.Model([fn.Dense(2)])
    with pytest.raises(RuntimeError, match="not built"):
        unbuilt.to_onnx(tmp_path / "x.onnx")
    model = _model("relu", "linear", "float32", "numpy")
    with pytest.raises(ValueError, match="opset"):
        model.to_onnx(tmp_path / "x.onnx", opset=7)
    mystery = fn.activations.Activation("mystery", 99)
    odd = fn.Model([fn.Dense(3, mystery, name="odd_one")], input_dim=2)
    with pytest.raises(ValueError, match="layer 'odd_one': activation 'mystery'"):
        odd.to_onnx(tmp_path / "x.onnx")
