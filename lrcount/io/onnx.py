"""ONNX: chains of Gemm or MatMul + Add, Relu, Flatten / Reshape / Identity, with input
normalisation (Sub, Div, Mul, Add by constants) folded into the adjacent affine layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LRCountError
from ..network import ReLUNetwork
from .chain import network_from_steps

_NO_OPS = {"Flatten", "Reshape", "Identity", "Dropout", "Squeeze", "Unsqueeze"}


def _attribute(node, name, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def load_onnx(path) -> ReLUNetwork:
    """Read a feed-forward ReLU network from an ONNX file."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise LRCountError("reading ONNX needs the onnx package: pip install onnx") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise LRCountError(f"cannot read {path} as ONNX ({type(exc).__name__}); is it an .onnx model?") from None
    graph = model.graph
    if not graph.node:
        raise LRCountError(f"{path} holds no ONNX graph (an empty or damaged file?); give an exported .onnx model")
    constants = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise LRCountError(f"{path}: expected one input, found {len(inputs)}")
    current = inputs[0].name
    steps: list = []

    def operand(node):
        """The constant operand of a binary node whose other operand is the current tensor."""
        names = list(node.input)
        if current not in names:
            raise LRCountError(f"{path}: node {node.name or node.op_type} is off the chain; only sequential nets are read")
        others = [n for n in names if n != current]
        if len(others) != 1 or others[0] not in constants:
            raise LRCountError(f"{path}: {node.op_type} must combine the data with one constant")
        return constants[others[0]], names.index(current)

    for node in graph.node:
        op = node.op_type
        if op == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(_attribute(node, "value", None)).astype(np.float64)
            continue
        if op in _NO_OPS:
            if node.input[0] != current:
                raise LRCountError(f"{path}: node {node.name or op} is off the chain")
        elif op == "Relu":
            if node.input[0] != current:
                raise LRCountError(f"{path}: node {node.name or op} is off the chain")
            steps.append(("relu",))
        elif op == "MatMul":
            w, position = operand(node)
            if position != 0 or w.ndim != 2:
                raise LRCountError(f"{path}: MatMul must be data @ matrix")
            steps.append(("affine", w.T, np.zeros(w.shape[1])))
        elif op == "Gemm":
            if _attribute(node, "transA", 0):
                raise LRCountError(f"{path}: Gemm with transA is not supported")
            w = constants.get(node.input[1])
            if node.input[0] != current or w is None:
                raise LRCountError(f"{path}: Gemm must multiply the data by a constant matrix")
            w = w if _attribute(node, "transB", 0) else w.T
            c = constants.get(node.input[2], np.zeros(w.shape[0])) if len(node.input) > 2 else np.zeros(w.shape[0])
            steps.append(("affine", _attribute(node, "alpha", 1.0) * w,
                          _attribute(node, "beta", 1.0) * np.broadcast_to(c.reshape(-1), w.shape[0])))
        elif op in ("Add", "Sub", "Mul", "Div"):
            c, position = operand(node)
            c = c.reshape(-1)
            if op in ("Sub", "Div") and position != 0:
                raise LRCountError(f"{path}: {op} with the data second is not supported")
            if op == "Div" and np.any(c == 0):
                raise LRCountError(f"{path}: Div by zero in node {node.name or op}")
            scale = c if op == "Mul" else 1.0 / c if op == "Div" else np.ones(1)
            shift = c if op == "Add" else -c if op == "Sub" else np.zeros(1)
            steps.append(("elementwise", scale, shift))
        else:
            raise LRCountError(
                f"unsupported ONNX operator {op} in {path}; lrcount reads Gemm, MatMul, Add, Sub, Mul, Div, Relu, Flatten"
            )
        current = node.output[0]
    if graph.output[0].name != current:
        raise LRCountError(f"{path}: the graph output is not the end of the chain")
    dims = inputs[0].type.tensor_type.shape.dim
    input_dim = dims[-1].dim_value if dims and dims[-1].dim_value > 0 else None
    return network_from_steps(steps, Path(path).stem, input_dim)
