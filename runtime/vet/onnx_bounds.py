"""Size bounds of an ONNX graph, read from the wire before onnxruntime sees it.

A 341-byte file whose ConstantOfShape takes its shape from a constant asked onnxruntime for 4.3 GB,
and a Loop with a constant trip count of 2^62 ran forever. From the constants a graph holds
(initializers and Constant nodes of integer type) this module bounds what such nodes would build:
ConstantOfShape / Expand shapes, Tile repeats, Loop trip counts, and every initializer's declared
size. Shapes computed at run time cannot be bounded here: `load(..., isolate=True)` runs those under
limits. Field numbers follow onnx/onnx.proto.
"""

from __future__ import annotations

import math
import struct

MAX_TENSOR_BYTES = 256 << 20  # one tensor a node may build from constants (a small RNN's are KBs)
MAX_INITIALIZER_BYTES = 256 << 20  # all initializers of a graph together
MAX_LOOP_TRIPS = 1 << 20  # a constant trip count; sequence loops use the input's length (not constant)
MAX_CONST_VALUES = 64  # integer constants longer than this are weights, not shapes

TENSOR_DIMS, TENSOR_TYPE, TENSOR_INT32, TENSOR_INT64, TENSOR_NAME, TENSOR_RAW = 1, 2, 5, 7, 8, 9
ITEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2}
INT32, INT64 = 6, 7
# op -> (index of the input holding a constant shape, what it is)
SHAPED = {"ConstantOfShape": (0, "shape"), "Expand": (1, "shape"), "Tile": (1, "repeats")}


class Constants:
    """Integer constants of one graph by name, and the nodes that build tensors from them."""

    def __init__(self, wire) -> None:
        self.wire, self.values, self.uses, self.initializer_bytes = wire, {}, [], 0
        self.dims: dict[str, list[int]] = {}  # initializer name -> its declared dims

    def add(self, name: str, values: list[int] | None) -> None:
        if name and values is not None:
            self.values[name] = values

    def tensor(self, span: tuple[int, int], initializer: bool) -> tuple[str, list[int] | None]:
        """Parse a TensorProto: (name, its integer values when it is a short int32/int64 tensor)."""
        name, dims, dtype, ints, raw = "", [], 0, [], None
        for field, wire, start, stop in self.wire.fields(*span):
            if field == TENSOR_NAME and wire == 2:
                name = self.wire.string(start, stop)
            elif field == TENSOR_DIMS:
                dims += self.varints(wire, start, stop)
            elif field == TENSOR_TYPE and wire == 0:
                dtype = start
            elif field in (TENSOR_INT32, TENSOR_INT64):
                ints += self.varints(wire, start, stop)
            elif field == TENSOR_RAW and wire == 2:
                raw = (start, stop)
        count = math.prod(max(d, 0) for d in dims)
        if initializer and name:
            self.dims[name] = dims
        if initializer:
            self.initializer_bytes += count * ITEM_BYTES.get(dtype, 8)
            if self.initializer_bytes > MAX_INITIALIZER_BYTES:
                raise self.wire.bad(
                    f"initializers declare over {MAX_INITIALIZER_BYTES} bytes (at {name!r}, dims {dims})"
                )
        if dtype not in (INT32, INT64) or count > MAX_CONST_VALUES:
            return name, None
        if raw is not None:
            width = 4 if dtype == INT32 else 8
            if (raw[1] - raw[0]) != count * width:
                return name, None
            ints = list(struct.unpack_from(f"<{count}{'i' if width == 4 else 'q'}", self.wire.data, raw[0]))
        return name, [self.signed(v) for v in ints] if len(ints) == count else None

    def varints(self, wire: int, start: int, stop: int) -> list[int]:
        if wire == 0:  # one unpacked value: `start` holds it
            return [start]
        if wire != 2:
            return []
        out, pos = [], start
        while pos < stop:
            value, pos = self.wire.varint(pos, stop)
            out.append(value)
        return out

    @staticmethod
    def signed(value: int) -> int:
        return value - (1 << 64) if value >= 1 << 63 else value

    def check(self, where: str) -> None:
        """Refuse the nodes whose constant inputs ask for too much."""
        for op_type, inputs in self.uses:
            if op_type == "Loop" and inputs and inputs[0] in self.values:
                trips = self.values[inputs[0]]
                if trips and trips[0] > MAX_LOOP_TRIPS:
                    raise self.wire.bad(
                        f"{where}: a Loop with a constant trip count of {trips[0]} (limit {MAX_LOOP_TRIPS})"
                    )
            if op_type in SHAPED:
                at, what = SHAPED[op_type]
                dims = self.values.get(inputs[at]) if at < len(inputs) else None
                if dims is None:
                    continue
                if any(d <= 0 for d in dims):  # an empty tensor: no exporter writes one; ORT's GRU aborts on it
                    raise self.wire.bad(
                        f"{where}: {op_type} with constant {what} {dims} builds an empty or invalid tensor"
                    )
                built = math.prod(dims) * 8
                data = self.dims.get(inputs[0]) if op_type != "ConstantOfShape" else None
                if data is not None and op_type == "Tile":  # the data is an initializer: its own size counts too
                    built *= math.prod(max(d, 1) for d in data)
                elif data is not None:  # Expand: the broadcast of the data's dims and the shape
                    width = max(len(data), len(dims))
                    a, b = [1] * (width - len(data)) + data, [1] * (width - len(dims)) + dims
                    built = math.prod(max(x, y) for x, y in zip(a, b)) * 8
                if built > MAX_TENSOR_BYTES:
                    raise self.wire.bad(
                        f"{where}: {op_type} with constant {what} {dims} would build over {MAX_TENSOR_BYTES} bytes"
                    )
