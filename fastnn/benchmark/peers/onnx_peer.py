"""onnxruntime (CPU), inference only, on the network exported with the onnx package's
helper API: one Gemm (x W + b) per layer, Relu between, Softmax at the end."""

from __future__ import annotations

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


class OnnxPeer(Peer):
    def __init__(self, threads: int) -> None:
        self.threads = threads

    def versions(self) -> dict:
        return {"onnxruntime": ort.__version__, "onnx": onnx.__version__}

    def trainer(self, weights, optimizer, batch: int):
        raise NotSupported("inference only")

    def predictor(self, weights):
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(export(weights), options, providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {"x": np.ascontiguousarray(x)})[0]
