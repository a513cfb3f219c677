"""A bounds-checked protobuf reader that vets an .onnx file before onnxruntime parses it.

The runtime has no `onnx` package, so this walks the wire format with the standard library:
ModelProto -> opset_import, graph (nodes, initializers, sparse initializers, attribute subgraphs
and tensors, recursively), functions and training_info. It refuses what a device should never
run from a bundle: external data of any kind (a file path the model would open), operator domains
other than the default ONNX one (custom ops, contrib kernels; the standard ONNX-ML domain may be
imported, as tf2onnx always does, but no node may use it), and model-local functions.
Field numbers follow onnx/onnx.proto (IR version 10).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import ModelLoadError, UnsupportedModelError
from .onnx_bounds import Constants

DEFAULT_DOMAINS = ("", "ai.onnx")
# tf2onnx always imports the official ONNX-ML domain; importing it is harmless, using it is refused.
IMPORTABLE_DOMAINS = (*DEFAULT_DOMAINS, "ai.onnx.ml")
MAX_DEPTH = 32  # nested subgraphs; real models use a handful, a hostile file could use thousands

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_FIXED = {_I64: 8, _I32: 4}

# (message, field) numbers used below.
MODEL_OPSET, MODEL_GRAPH, MODEL_TRAINING, MODEL_FUNCTIONS = 8, 7, 20, 25
GRAPH_NODE, GRAPH_INIT, GRAPH_SPARSE_INIT = 1, 5, 15
NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE, NODE_ATTR, NODE_DOMAIN = 1, 2, 4, 5, 7
ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE, ATTR_SPARSES = 5, 6, 10, 11, 22, 23
TENSOR_NAME, TENSOR_EXTERNAL, TENSOR_LOCATION = 8, 13, 14
SPARSE_VALUES, SPARSE_INDICES = 1, 2
OPSET_DOMAIN = 1
TRAINING_GRAPHS = (1, 2)  # initialization, algorithm


class _Wire:
    """Fields of protobuf messages inside `data`, each message given as a (start, end) span."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name

    def bad(self, why: str) -> ModelLoadError:
        return ModelLoadError(f"{self.name}: not a valid ONNX file ({why}); re-export the bundle.")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise self.bad(f"varint out of range at byte {pos}")
            byte = self.data[pos]
            value |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if not byte & 0x80:
                return value, pos

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """Yield (field, wire_type, value_or_start, stop) for each field of a message span."""
        pos = start
        while pos < end:
            key, pos = self.varint(pos, end)
            field, wire = key >> 3, key & 7
            if field == 0:
                raise self.bad(f"field number 0 at byte {pos}")
            if wire == _VARINT:
                value, pos = self.varint(pos, end)
                yield field, wire, value, pos
            elif wire == _LEN:
                length, pos = self.varint(pos, end)
                if length > end - pos:
                    raise self.bad(f"a field of {length} bytes overruns its message at byte {pos}")
                yield field, wire, pos, pos + length
                pos += length
            elif wire in _FIXED:
                if pos + _FIXED[wire] > end:
                    raise self.bad(f"fixed-size field overruns its message at byte {pos}")
                yield field, wire, pos, pos + _FIXED[wire]
                pos += _FIXED[wire]
            else:  # groups (3, 4) are not used by onnx.proto; 6, 7 do not exist
                raise self.bad(f"wire type {wire} at byte {pos}")

    def messages(self, span: tuple[int, int], field: int) -> Iterator[tuple[int, int]]:
        """Spans of the sub-messages stored in `field` of the message `span`."""
        for number, wire, start, stop in self.fields(*span):
            if number == field:
                if wire != _LEN:
                    raise self.bad(f"field {field} has wire type {wire}, expected a message")
                yield start, stop

    def string(self, start: int, stop: int) -> str:
        try:
            return self.data[start:stop].decode("utf-8")
        except UnicodeDecodeError:
            raise self.bad(f"a name at byte {start} is not UTF-8") from None


class _Checker:
    def __init__(self, data: bytes, name: str) -> None:
        self.wire, self.name = _Wire(data, name), name

    def refuse(self, why: str) -> UnsupportedModelError:
        return UnsupportedModelError(
            f"{self.name}: {why}; edgernn runs self-contained, standard-op ONNX only. "
            "Re-export the bundle with 'edgernn export'."
        )

    def model(self) -> None:
        root = (0, len(self.wire.data))
        graphs = 0
        for field, wire, start, stop in self.wire.fields(*root):
            if field in (MODEL_OPSET, MODEL_GRAPH, MODEL_TRAINING, MODEL_FUNCTIONS) and wire != _LEN:
                raise self.wire.bad(f"ModelProto field {field} has wire type {wire}")
            if field == MODEL_OPSET:
                self.opset((start, stop))
            elif field == MODEL_GRAPH:
                graphs += 1
                self.graph((start, stop), 0)
            elif field == MODEL_FUNCTIONS:
                raise self.refuse("it defines model-local functions (custom ops)")
            elif field == MODEL_TRAINING:
                for number in TRAINING_GRAPHS:
                    for span in self.wire.messages((start, stop), number):
                        self.graph(span, 0)
        if not graphs:
            raise self.wire.bad("no graph")

    def opset(self, span: tuple[int, int]) -> None:
        for start, stop in self.wire.messages(span, OPSET_DOMAIN):
            domain = self.wire.string(start, stop)
            if domain not in IMPORTABLE_DOMAINS:
                raise self.refuse(f"it imports operator domain {domain!r}")

    def graph(self, span: tuple[int, int], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.wire.bad(f"subgraphs nested deeper than {MAX_DEPTH}")
        constants = Constants(self.wire)
        for field, wire, start, stop in self.wire.fields(*span):
            if field in (GRAPH_NODE, GRAPH_INIT, GRAPH_SPARSE_INIT) and wire != _LEN:
                raise self.wire.bad(f"GraphProto field {field} has wire type {wire}")
            if field == GRAPH_NODE:
                self.node((start, stop), depth, constants)
            elif field == GRAPH_INIT:
                self.tensor((start, stop))
                constants.add(*constants.tensor((start, stop), initializer=True))
            elif field == GRAPH_SPARSE_INIT:
                self.sparse((start, stop))
        constants.check(f"the graph at byte {span[0]}")

    def node(self, span: tuple[int, int], depth: int, constants: Constants) -> None:
        op_type, domain, names, values = "?", "", {NODE_INPUT: [], NODE_OUTPUT: []}, []
        for field, wire, start, stop in self.wire.fields(*span):
            if field in (NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE, NODE_DOMAIN, NODE_ATTR) and wire != _LEN:
                raise self.wire.bad(f"NodeProto field {field} has wire type {wire}")
            if field in names:
                names[field].append(self.wire.string(start, stop))
            elif field == NODE_OP_TYPE:
                op_type = self.wire.string(start, stop)
            elif field == NODE_DOMAIN:
                domain = self.wire.string(start, stop)
            elif field == NODE_ATTR:
                values += self.attribute((start, stop), depth)
        if domain not in DEFAULT_DOMAINS:
            raise self.refuse(f"node {op_type!r} is in operator domain {domain!r} (a custom or contrib op)")
        constants.uses.append((op_type, names[NODE_INPUT]))
        if op_type == "Constant" and values and names[NODE_OUTPUT]:
            constants.add(names[NODE_OUTPUT][0], constants.tensor(values[0], initializer=False)[1])

    def attribute(self, span: tuple[int, int], depth: int) -> list[tuple[int, int]]:
        """Check an AttributeProto; return the spans of its single-tensor values (a Constant's value)."""
        tensors = []
        for field, wire, start, stop in self.wire.fields(*span):
            if field in (ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE, ATTR_SPARSES) and wire != _LEN:
                raise self.wire.bad(f"AttributeProto field {field} has wire type {wire}")
            if field in (ATTR_T, ATTR_TENSORS):
                self.tensor((start, stop))
                tensors += [(start, stop)] if field == ATTR_T else []
            elif field in (ATTR_G, ATTR_GRAPHS):
                self.graph((start, stop), depth + 1)
            elif field in (ATTR_SPARSE, ATTR_SPARSES):
                self.sparse((start, stop))
        return tensors

    def sparse(self, span: tuple[int, int]) -> None:
        for number in (SPARSE_VALUES, SPARSE_INDICES):
            for sub in self.wire.messages(span, number):
                self.tensor(sub)

    def tensor(self, span: tuple[int, int]) -> None:
        name, external = "?", False
        for field, wire, start, stop in self.wire.fields(*span):
            if field == TENSOR_NAME and wire == _LEN:
                name = self.wire.string(start, stop)
            elif field == TENSOR_EXTERNAL:
                external = True
            elif field == TENSOR_LOCATION:
                external = external or wire != _VARINT or start != 0  # anything but DEFAULT (0)
        if external:
            raise self.refuse(f"tensor {name!r} keeps its data outside the file (external data)")


def check_onnx(data: bytes, name: str = "model.onnx") -> None:
    """Vet an ONNX file's bytes before a runtime parses them.

    Raises:
        ModelLoadError: the bytes are not a well-formed ModelProto (empty, truncated, garbage).
        UnsupportedModelError: external data, a non-default operator domain, or model-local functions.
    """
    if not data:
        raise ModelLoadError(f"{name}: the file is empty; re-export the bundle.")
    if data[4:8] == b"ORTM":  # onnxruntime's own flatbuffer format would skip every check below
        raise UnsupportedModelError(f"{name}: an ORT-format model; edgernn runs .onnx protobuf files only.")
    try:
        _Checker(bytes(data), name).model()
    except RecursionError:
        raise ModelLoadError(f"{name}: not a valid ONNX file (nested too deeply).") from None
