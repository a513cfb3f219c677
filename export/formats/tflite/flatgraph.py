"""A small writer of TFLite flatbuffers from tensors and builtin ops, over TensorFlow's own schema
object API (`schema_py_generated`): what int8_loop.py builds its hand-made WHILE graph with.

Tensors are added with a shape, a dtype, optional quantization (scale, zero point, axis) and optional
constant data; a tensor whose first dimension is the batch gets the shape signature -1 there, so the
interpreter resizes it. Every tensor without data shares buffer 0 (the schema's empty buffer): the
converter writes one empty buffer per tensor, 12 bytes each, for nothing. Equal constants are one
tensor (an unrolled graph reads the same weights at every step), and `lean()` drops the records the
interpreter recomputes anyway (lean_unrolled.py, where records outweigh the weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

# The version the TF 2.21 converter writes for an op by the type of its data input (an older runtime
# picks the kernel by version: a float op marked as an int8 one runs, wrongly). Ops not listed are 1.
# tests/export/test_int8_loop.py checks these against the converter's own files.
_INT8_VERSIONS = {"ADD": 2, "SUB": 2, "MUL": 2, "LOGISTIC": 2, "TANH": 2, "SPLIT": 2, "GATHER": 2, "FILL": 3}
_DATA_INPUT = {"SPLIT": 1, "FILL": 1}  # the others: input 0 (SPLIT's input 0 is its axis, FILL's its shape)
_HYBRID_FC, _KEEP_DIMS_FC, _INT8_FC = 12, 5, 4  # float x int8 per-channel weights; int8 (B, T, F); int8


def op_version(name: str, types: Sequence[str], opts: Any = None) -> int:
    """The op version for `name` with input tensor types `types` (numpy dtype names, None for -1)."""
    data = types[_DATA_INPUT.get(name, 0)]
    if name == "FULLY_CONNECTED":
        if data == "float32":
            return _HYBRID_FC if types[1] == "int8" else 1
        return _KEEP_DIMS_FC if getattr(opts, "keepNumDims", False) else _INT8_FC
    return _INT8_VERSIONS.get(name, 1) if data == "int8" else 1


def _schema():
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated


@cache
def _type_names() -> dict[int, str]:
    return {v: k.lower() for k, v in vars(_schema().TensorType).items() if not k.startswith("_")}


def options(name: str, **fields: Any) -> tuple[int, Any]:
    """(builtin options type, options object) for e.g. options("FullyConnected", keepNumDims=True)."""
    s = _schema()
    obj = getattr(s, f"{name}OptionsT")()
    for key, value in fields.items():
        setattr(obj, key, value)
    return getattr(s.BuiltinOptions, f"{name}Options"), obj


class FlatModel:
    """A TFLite model under construction: op codes, buffers and subgraphs (the first is the entry)."""

    def __init__(self, description: str):
        s = _schema()
        self.model = s.ModelT()
        self.model.version = 3
        self.model.description = description
        self.model.operatorCodes, self.model.subgraphs, self.model.buffers = [], [], [s.BufferT()]
        self._codes: dict[tuple[str, int], int] = {}

    def subgraph(self, name: str) -> Subgraph:
        graph = Subgraph(self, name, len(self.model.subgraphs))
        self.model.subgraphs.append(graph.graph)
        return graph

    def code(self, op: str, version: int) -> int:
        if (op, version) not in self._codes:
            s = _schema()
            code = s.OperatorCodeT()
            code.builtinCode = getattr(s.BuiltinOperator, op)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)  # the schema's placeholder past 127
            code.version = version
            self._codes[op, version] = len(self.model.operatorCodes)
            self.model.operatorCodes.append(code)
        return self._codes[op, version]

    def op_names(self) -> dict[int, str]:
        """Operator-code index -> builtin op name, for the codes added so far."""
        return {index: name for (name, _), index in self._codes.items()}

    def buffer(self, data: bytes) -> int:
        buf = _schema().BufferT()
        buf.data = np.frombuffer(data, dtype=np.uint8)
        self.model.buffers.append(buf)
        return len(self.model.buffers) - 1

    def to_bytes(self) -> bytes:
        from tensorflow.lite.tools import flatbuffer_utils

        return bytes(flatbuffer_utils.convert_object_to_bytearray(self.model))


Quant = tuple  # (scale or scales, zero point or points[, quantized axis])


class Subgraph:
    """One subgraph: add tensors and ops, then set `inputs` and `outputs` (tensor indices)."""

    def __init__(self, owner: FlatModel, name: str, index: int):
        s = _schema()
        self.owner, self.index = owner, index
        self.graph = s.SubGraphT()
        self.graph.name = name
        self.graph.tensors, self.graph.operators, self.graph.inputs, self.graph.outputs = [], [], [], []
        self._consts: dict[tuple, int] = {}

    def tensor(self, shape: Sequence[int], dtype, quant: Quant | None = None, *, batch: bool = False) -> int:
        """A tensor without data; `batch`: its first dimension is the free batch (signature -1)."""
        return self._add(shape, dtype, quant, None, batch)

    def const(self, value, dtype, quant: Quant | None = None) -> int:
        """A constant tensor; an equal one (data, shape, dtype, quantization) already added is reused."""
        value = np.array(value, dtype=dtype, order="C")  # not ascontiguousarray: it makes a scalar 1-d
        qkey = None if quant is None else tuple(np.asarray(v, np.float64).tobytes() for v in quant)
        key = (value.tobytes(), value.shape, value.dtype.name, qkey)
        if key not in self._consts:
            self._consts[key] = self._add(value.shape, dtype, quant, value.tobytes(), False)
        return self._consts[key]

    def _add(self, shape, dtype, quant, data: bytes | None, batch: bool) -> int:
        s = _schema()
        t = s.TensorT()
        t.shape = [int(d) for d in shape]
        if batch:
            t.shapeSignature = [-1, *t.shape[1:]]
        t.type = getattr(s.TensorType, np.dtype(dtype).name.upper())
        t.buffer = 0 if data is None else self.owner.buffer(data)
        if quant is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(quant[0])]
            q.zeroPoint = [int(v) for v in np.atleast_1d(quant[1])]
            q.quantizedDimension = int(quant[2]) if len(quant) > 2 else 0
            t.quantization = q
        self.graph.tensors.append(t)
        return len(self.graph.tensors) - 1

    def dtype(self, index: int) -> str:
        """The numpy dtype name of tensor `index` ("float32", "int8", ...)."""
        return _type_names()[self.graph.tensors[index].type]

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int], opts: tuple[int, Any] = (0, None)) -> None:
        o = _schema().OperatorT()
        types = [self.dtype(i) if i >= 0 else None for i in inputs]
        o.opcodeIndex = self.owner.code(name, op_version(name, types, opts[1]))
        o.inputs, o.outputs = [int(i) for i in inputs], [int(i) for i in outputs]
        o.builtinOptionsType, o.builtinOptions = opts
        self.graph.operators.append(o)


_PLAIN_OPTIONS = ("AddOptionsT", "MulOptionsT", "SubOptionsT")  # all defaults unless an activation is fused


def lean(graph: Subgraph) -> None:
    """Drop what the interpreter recomputes: an intermediate tensor's shape and shape signature (each op's
    Prepare sizes its outputs), and ADD/MUL/SUB options left at their defaults. The graph's inputs and
    outputs keep both; a FULLY_CONNECTED data input keeps its shape (XNNPACK's dynamic-range
    fully-connected reads its rank when it takes the node: without it LiteRT failed to prepare the graph)."""
    g = graph.graph
    io = set(g.inputs) | set(g.outputs)
    names = graph.owner.op_names()
    shaped = {int(op.inputs[0]) for op in g.operators if names[op.opcodeIndex] == "FULLY_CONNECTED"}
    for index, tensor in enumerate(g.tensors):
        if index in io or tensor.buffer != 0:
            continue
        tensor.shapeSignature = None
        if index not in shaped:
            tensor.shape = None
    for op in g.operators:
        opts = op.builtinOptions
        if type(opts).__name__ in _PLAIN_OPTIONS and not opts.fusedActivationFunction:
            op.builtinOptionsType, op.builtinOptions = 0, None


def subgraph_ops(content: bytes) -> list[dict[str, int]]:
    """Builtin op names and counts per subgraph of a .tflite file (the interpreter lists the first only)."""
    from tensorflow.lite.tools import flatbuffer_utils

    s = _schema()
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    counts = []
    for graph in model.subgraphs:
        ops: dict[str, int] = {}
        for op in graph.operators or []:
            name = names.get(model.operatorCodes[op.opcodeIndex].builtinCode, "CUSTOM")
            ops[name] = ops.get(name, 0) + 1
        counts.append(dict(sorted(ops.items())))
    return counts
