"""onnxruntime (CPU), inference only, on the network exported with the onnx package's
helper API: one Gemm (x W + b) per layer, Relu between, Softmax at the end; in fp32, or
int8-quantized from that fp32 model the way onnxruntime's quantization guide starts:
``onnxruntime.quantization.quantize_dynamic`` with int8 weights (each Gemm becomes an
integer MatMul on activations quantized to uint8 per call; no calibration data)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from . import NotSupported, Peer, Unavailable

try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as error:
    raise Unavailable(f"{error} (pip install onnx onnxruntime)") from None

OPSET = 17
IR_VERSION = 8  # what onnxruntime releases of the last years all read


def export(weights) -> bytes:
    """The serialized ONNX model of the MLP [W1, b1, W2, b2, ...] (W: n_in x n_out)."""
    nodes, initializers, h = [], [], "x"
    n_layers = len(weights) // 2
    for i in range(n_layers):
        w, b = f"W{i}", f"b{i}"
        initializers += [
            numpy_helper.from_array(weights[2 * i], w),
            numpy_helper.from_array(weights[2 * i + 1], b),
        ]
        z = f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, w, b], [z]))
        h = f"h{i}"
        last = i == n_layers - 1
        if last:
            nodes.append(helper.make_node("Softmax", [z], [h], axis=1))
        else:
            nodes.append(helper.make_node("Relu", [z], [h]))
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", weights[0].shape[0]])],
        [helper.make_tensor_value_info(h, TensorProto.FLOAT, ["batch", weights[-1].shape[0]])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def quantize_int8(model: bytes) -> bytes:
    """The int8 dynamically quantized version of a serialized fp32 model."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # it logs a suggestion to run its shape pre-processing, which an MLP does not need
    logging.getLogger().setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        fp32, int8 = Path(folder, "fp32.onnx"), Path(folder, "int8.onnx")
        fp32.write_bytes(model)
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
        return int8.read_bytes()


class OnnxPeer(Peer):
    def __init__(self, threads: int, quantization: str | None = None) -> None:
        if quantization not in (None, "int8"):
            raise ValueError(f"quantization must be None or 'int8'; got {quantization!r}")
        self.threads = threads
        self.quantization = quantization

    def versions(self) -> dict:
        return {"onnxruntime": ort.__version__, "onnx": onnx.__version__}

    def model(self, weights) -> bytes:
        """The serialized model this peer runs (fp32, or quantized from it)."""
        fp32 = export(weights)
        return quantize_int8(fp32) if self.quantization == "int8" else fp32

    def trainer(self, weights, optimizer, batch: int):
        raise NotSupported("inference only")

    def predictor(self, weights):
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(
            self.model(weights), options, providers=["CPUExecutionProvider"]
        )
        return lambda x: session.run(None, {"x": np.ascontiguousarray(x)})[0]
