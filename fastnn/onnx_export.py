"""Export a fastnn Model as a standard ONNX graph (extra ``onnx``).

``model.to_onnx("model.onnx")`` writes one ``Gemm`` (``MatMul`` without bias) per Dense
layer followed by its activation, with the weights as initializers, input ``input`` of
shape (batch, n_in) with a dynamic batch dimension, and output ``output`` (batch,
n_out): the same numbers ``model.predict`` returns. Dropout is the identity at
inference and is left out. The graph is built with the ``onnx`` package's helper API and
passes ``onnx.checker`` (full check); its IR version is the oldest one the opset allows,
so older runtimes load it too.

Activations map to ONNX operators: Relu, LeakyRelu(alpha), Sigmoid, Tanh,
Softmax(axis=-1), Elu(alpha), Softplus, Gelu (an operator from opset 20; below it, exact
GELU as 0.5·x·(1 + Erf(x/√2))), and the perceptron's step as Cast(x >= 0). onnxruntime
has no float64 kernels for Elu, Softplus or Erf, and LeakyRelu/Elu take alpha as a
float32 attribute, so float64 graphs spell those with elementary operators (Where, Exp,
Log, ...) in float64; their erf is evaluated in float32 (GELU then agrees with predict
to ~1e-7 relative rather than to float64 rounding).
"""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("ONNX export needs the onnx package: pip install 'fastnn[onnx]'") from error

from ._version import __version__
from .backends.spec import Act
from .layers import Dense, Dropout

DEFAULT_OPSET = 17  # widely supported (onnxruntime >= 1.13)
MIN_OPSET = 13  # Softmax over one axis, as fastnn's, from opset 13
GELU_OPSET = 20  # the first opset with a Gelu operator


def to_onnx(
    model,
    path: str | os.PathLike | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    input_name: str = "input",
    output_name: str = "output",
) -> onnx.ModelProto:
    """The ONNX model of ``model`` (written to ``path`` when given).

    opset: the ONNX operator set to target, from 13 up to what the installed ``onnx``
        knows; GELU is the Gelu operator from 20, an Erf expression below.
    """
    if not model.built:
        raise RuntimeError(
            "cannot export a model that is not built yet (no weights): give input_dim "
            "or train it first"
        )
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an integer in [{MIN_OPSET}, {newest}]; got {opset!r}")
    graph = _GraphBuilder(model.dtype, opset)
    current = input_name
    for layer in model.layers:
        if isinstance(layer, Dropout):
            continue
        if not isinstance(layer, Dense):
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) has no ONNX form; "
                "fastnn exports Dense and Dropout layers"
            )
        current = _dense(graph, layer, current)
    graph.rename(current, output_name)

    elem = graph.elem_type
    proto = helper.make_model(
        helper.make_graph(
            graph.nodes,
            model.name,
            [helper.make_tensor_value_info(input_name, elem, ["batch", model.input_dim])],
            [helper.make_tensor_value_info(output_name, elem, ["batch", model.output_dim])],
            initializer=graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="fastnn",
        producer_version=__version__,
        doc_string=f"fastnn model {model.name!r}: {len(model.layers)} layers, {model.dtype}",
    )
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        with open(os.fspath(path), "wb") as handle:
            handle.write(proto.SerializeToString())
    return proto


class _GraphBuilder:
    """Nodes and initializers of one graph, with unique tensor names."""

    def __init__(self, dtype: np.dtype, opset: int) -> None:
        self.dtype = np.dtype(dtype)
        self.elem_type = helper.np_dtype_to_tensor_dtype(self.dtype)
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    @property
    def is_float64(self) -> bool:
        return self.dtype == np.float64

    def _unique(self, name: str) -> str:
        candidate, i = name, 1
        while candidate in self._names:
            i += 1
            candidate = f"{name}_{i}"
        self._names.add(candidate)
        return candidate

    def weight(self, name: str, array: np.ndarray) -> str:
        tensor = numpy_helper.from_array(np.asarray(array, self.dtype), self._unique(name))
        self.initializers.append(tensor)
        return tensor.name

    def scalar(self, name: str, value: float) -> str:
        return self.weight(name, np.array(value))

    def node(self, op: str, inputs: list[str], name: str, **attributes) -> str:
        """Append ``op(inputs)``; returns the name of its output tensor."""
        output = self._unique(name)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def rename(self, old: str, new: str) -> None:
        """Give the graph's last tensor its public name."""
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, value in enumerate(names):
                    if value == old:
                        names[i] = new


def _dense(graph: _GraphBuilder, layer: Dense, x: str) -> str:
    W = graph.weight(f"{layer.name}/W", layer.W)
    if layer.use_bias:
        b = graph.weight(f"{layer.name}/b", layer.b)
        z = graph.node("Gemm", [x, W, b], f"{layer.name}/gemm")
    else:
        z = graph.node("MatMul", [x, W], f"{layer.name}/matmul")
    emit = _ACTIVATIONS.get(layer.activation.code)
    if emit is None:
        raise ValueError(
            f"layer {layer.name!r}: activation {layer.activation.name!r} has no ONNX form "
            "in fastnn's exporter"
        )
    return emit(graph, z, layer.activation.param, f"{layer.name}/{layer.activation.name}")


# ------------------------------------------------------------ activations
# Each takes (graph, z, alpha, name) and returns the activation's output tensor.


def _linear(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
    return z


def _operator(op: str, **attributes) -> Callable[[_GraphBuilder, str, float, str], str]:
    def emit(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
        return graph.node(op, [z], name, **attributes)

    return emit


def _leaky_relu(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
    if not graph.is_float64:
        return graph.node("LeakyRelu", [z], name, alpha=alpha)
    scaled = graph.node("Mul", [z, graph.scalar(f"{name}/alpha", alpha)], f"{name}/scaled")
    return _where_positive(graph, z, scaled, name)


def _elu(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
    if not graph.is_float64:
        return graph.node("Elu", [z], name, alpha=alpha)
    zero = graph.scalar(f"{name}/zero", 0.0)
    negative = graph.node("Min", [z, zero], f"{name}/negative")
    expm1 = graph.node(
        "Sub",
        [graph.node("Exp", [negative], f"{name}/exp"), graph.scalar(f"{name}/one", 1.0)],
        f"{name}/expm1",
    )
    scaled = graph.node("Mul", [expm1, graph.scalar(f"{name}/alpha", alpha)], f"{name}/scaled")
    return _where_positive(graph, z, scaled, name)


def _where_positive(graph: _GraphBuilder, z: str, otherwise: str, name: str) -> str:
    positive = graph.node("Greater", [z, graph.scalar(f"{name}/zero", 0.0)], f"{name}/positive")
    return graph.node("Where", [positive, z, otherwise], name)


def _softplus(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
    if not graph.is_float64:
        return graph.node("Softplus", [z], name)
    # max(z, 0) + log(1 + exp(-|z|)): no overflow for any z
    minus_abs = graph.node("Neg", [graph.node("Abs", [z], f"{name}/abs")], f"{name}/minus_abs")
    one_plus = graph.node(
        "Add",
        [graph.node("Exp", [minus_abs], f"{name}/exp"), graph.scalar(f"{name}/one", 1.0)],
        f"{name}/one_plus",
    )
    log = graph.node("Log", [one_plus], f"{name}/log")
    return graph.node("Add", [graph.node("Relu", [z], f"{name}/relu"), log], name)


def _gelu(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
    if graph.opset >= GELU_OPSET and not graph.is_float64:
        return graph.node("Gelu", [z], name)
    # exact GELU: 0.5 * z * (1 + erf(z / sqrt(2)))
    scaled = graph.node("Mul", [z, graph.scalar(f"{name}/rsqrt2", 1 / math.sqrt(2))], f"{name}/u")
    if graph.is_float64:  # onnxruntime has no float64 Erf: evaluate it in float32
        as_float = graph.node("Cast", [scaled], f"{name}/u32", to=TensorProto.FLOAT)
        erf32 = graph.node("Erf", [as_float], f"{name}/erf32")
        erf = graph.node("Cast", [erf32], f"{name}/erf", to=graph.elem_type)
    else:
        erf = graph.node("Erf", [scaled], f"{name}/erf")
    one_plus = graph.node("Add", [erf, graph.scalar(f"{name}/one", 1.0)], f"{name}/one_plus")
    half_z = graph.node("Mul", [z, graph.scalar(f"{name}/half", 0.5)], f"{name}/half_z")
    return graph.node("Mul", [half_z, one_plus], name)


def _step(graph: _GraphBuilder, z: str, alpha: float, name: str) -> str:
    # fastnn's threshold unit: 1 where z >= 0, else 0
    fires = graph.node("GreaterOrEqual", [z, graph.scalar(f"{name}/zero", 0.0)], f"{name}/fires")
    return graph.node("Cast", [fires], name, to=graph.elem_type)


_ACTIVATIONS: dict[Act, Callable[[_GraphBuilder, str, float, str], str]] = {
    Act.LINEAR: _linear,
    Act.RELU: _operator("Relu"),
    Act.LEAKY_RELU: _leaky_relu,
    Act.SIGMOID: _operator("Sigmoid"),
    Act.TANH: _operator("Tanh"),
    Act.SOFTMAX: _operator("Softmax", axis=-1),
    Act.ELU: _elu,
    Act.GELU: _gelu,
    Act.SOFTPLUS: _softplus,
    Act.STEP: _step,
}
