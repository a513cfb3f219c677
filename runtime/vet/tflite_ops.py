"""A bounds-checked reader for the operator codes of a .tflite flatbuffer.

It lets the runtime refuse Flex and custom ops before an interpreter parses the file, with
nothing but the standard library. Layout per the TFLite schema: Model.operator_codes is field 1,
OperatorCode fields are deprecated_builtin_code (0, int8), custom_code (1, string) and
builtin_code (3, int32); the effective code is the larger of the two codes.

And how many inputs and outputs each TFLite builtin takes (`arity_problem`), checked before an
interpreter meets the op. LiteRT's kernels index an op's inputs without always checking their count:
an opcode index edited so that a one-input LOGISTIC becomes a four-input STRIDED_SLICE segfaulted
(found by fuzz/structure.py). Ops outside that table are refused: edgernn's exporters write only
these (the table grows with them). Codes follow tensorflow/compiler/mlir/lite/schema/schema.fbs.
"""

from __future__ import annotations

import struct

from ..errors import ModelLoadError

CUSTOM_CODE = 32


_STRUCTS: dict[str, struct.Struct] = {}  # compiled once per format: vetting runs on every load (cold start)
_I32, _U16, _U32 = struct.Struct("<i"), struct.Struct("<H"), struct.Struct("<I")


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.size = data, name, len(data)

    def _unpack(self, fmt: str, pos: int):
        packed = _STRUCTS.get(fmt) or _STRUCTS.setdefault(fmt, struct.Struct(fmt))
        if pos < 0 or pos + packed.size > self.size:
            raise ModelLoadError(f"{self.name}: not a valid .tflite file (offset {pos} out of range).")
        return packed.unpack_from(self.data, pos)[0]

    def vtable(self, table: int) -> int:
        """The position of `table`'s vtable, its size field in the file (_unpack's checks inlined)."""
        data, size = self.data, self.size
        if table < 0 or table + 4 > size:
            self._unpack("<i", table)  # raises the out-of-range error
        vtable = table - _I32.unpack_from(data, table)[0]
        if vtable < 0 or vtable + 2 > size:
            self._unpack("<H", vtable)
        return vtable

    def field_pos(self, table: int, field: int) -> int | None:
        data, size, vtable = self.data, self.size, self.vtable(table)
        slot = 4 + 2 * field
        if slot + 2 > _U16.unpack_from(data, vtable)[0]:
            return None
        if vtable + slot + 2 > size:
            self._unpack("<H", vtable + slot)
        off = _U16.unpack_from(data, vtable + slot)[0]
        return table + off if off else None

    def deref(self, pos: int) -> int:
        if pos < 0 or pos + 4 > self.size:
            self._unpack("<I", pos)  # raises the out-of-range error
        return pos + _U32.unpack_from(self.data, pos)[0]

    def vector(self, table: int, field: int, item_size: int) -> tuple[int, int] | None:
        """(first item position, item count) of a vector field, bounds-checked; None when absent."""
        pos = self.field_pos(table, field)
        return None if pos is None else self.vector_at(pos, item_size)

    def vector_at(self, pos: int, item_size: int) -> tuple[int, int]:
        """`vector` of the field at `pos` (a position field_pos or slots found)."""
        data, size = self.data, self.size  # deref() inlined: thousands of calls per load (cold start)
        if pos < 0 or pos + 4 > size:
            self._unpack("<I", pos)  # raises the out-of-range error
        vec = pos + _U32.unpack_from(data, pos)[0]
        if vec + 4 > size:
            self._unpack("<I", vec)
        count = _U32.unpack_from(data, vec)[0]
        if vec + 4 + item_size * count > size:
            raise ModelLoadError(
                f"{self.name}: not a valid .tflite file (a vector of {count} items overruns the file)."
            )
        return vec + 4, count

    def table_vector(self, table: int, field: int) -> list[int]:
        found = self.vector(table, field, 4)
        if found is None:
            return []
        start, count = found  # in range: vector() checked all `count` offsets lie in the file
        offsets = struct.unpack_from(f"<{count}I", self.data, start)
        return [start + 4 * i + off for i, off in enumerate(offsets)]  # deref() of each, in one unpack

    def string(self, table: int, field: int) -> str | None:
        pos = self.field_pos(table, field)
        if pos is None:
            return None
        at = self.deref(pos)
        length = self._unpack("<I", at)
        raw = self.data[at + 4 : at + 4 + length]
        if len(raw) != length:
            raise ModelLoadError(f"{self.name}: not a valid .tflite file (string out of range).")
        return raw.decode("utf-8", "replace")

    def scalar(self, table: int, field: int, fmt: str, default: int) -> int:
        pos = self.field_pos(table, field)
        return default if pos is None else self._unpack(fmt, pos)


def custom_ops(data: bytes, name: str = "model.tflite") -> list[str]:
    """Names of the custom (including Flex) ops a .tflite file declares; [] for builtin-only.

    Raises:
        ModelLoadError: the bytes are not a TFLite flatbuffer.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError(f"{name}: not a .tflite file (no 'TFL3' identifier); re-export the bundle.")
    reader = _Reader(data, name)
    root = reader.deref(0)
    found = []
    for code in reader.table_vector(root, 1):
        builtin = max(reader.scalar(code, 0, "<b", 0), reader.scalar(code, 3, "<i", 0))
        if builtin == CUSTOM_CODE:
            found.append(reader.string(code, 1) or "<unnamed custom op>")
    return found


# builtin code -> the fewest and the most inputs it takes (None: any). Two literal dicts of ints: parsing a
# text table, or a dict of (min, max) tuples (90 more objects for the garbage collector to count), cost
# the cold start of every load (benchmarks/cold_start.py). Each row: the same codes, named at its end.
# fmt: off
MIN_INPUTS: dict[int, int] = {
    0: 2, 1: 1, 2: 1, 3: 2, 4: 2,  # ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D
    6: 1, 7: 2, 8: 1, 9: 2, 14: 1,  # DEQUANTIZE EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED LOGISTIC
    11: 1, 17: 1, 18: 2, 19: 1, 20: 1,  # L2_NORMALIZATION MAX_POOL_2D MUL RELU RELU_N1_TO_1
    21: 1, 22: 1, 25: 1, 28: 1, 34: 2,  # RELU6 RESHAPE SOFTMAX TANH PAD
    36: 2, 37: 3, 38: 3, 39: 2, 40: 2,  # GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN
    41: 2, 42: 2, 43: 1, 44: 24, 45: 4,  # SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
    47: 1, 49: 2, 53: 1, 54: 2, 55: 2,  # EXP SPLIT CAST PRELU MAXIMUM
    56: 2, 57: 2, 58: 2, 59: 1, 60: 3,  # ARG_MAX MINIMUM LESS NEG PADV2
    61: 2, 62: 2, 63: 2, 64: 3, 65: 3,  # GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE
    66: 1, 69: 2, 70: 2, 71: 2, 72: 2,  # SIN TILE EXPAND_DIMS EQUAL NOT_EQUAL
    73: 1, 74: 2, 75: 1, 76: 1, 77: 1,  # LOG SUM SQRT RSQRT SHAPE
    78: 2, 81: 2, 82: 2, 83: 1, 84: 2,  # POW REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR
    86: 2, 87: 1, 88: 1, 89: 2, 90: 2,  # LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV
    91: 2, 92: 1, 93: 1, 94: 2, 95: 2,  # REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD
    96: 3, 98: 1, 99: 2, 100: 2, 101: 1,  # RANGE LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS
    102: 3, 104: 1, 105: 2, 107: 2, 108: 1,  # SPLIT_V CEIL REVERSE_V2 GATHER_ND COS
    111: 1, 114: 1, 116: 1, 117: 1, 119: 0,  # ELU QUANTIZE ROUND HARD_SWISH WHILE
    123: 3, 126: 2, 128: 2, 130: 2, 132: 2,  # SELECT_V2 BATCH_MATMUL CUMSUM BROADCAST_TO CONV_3D
    150: 1, 158: 1,  # GELU SIGN
}
MAX_INPUTS: dict[int, int | None] = {
    0: 2, 1: 1, 2: None, 3: 3, 4: 3,  # ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D
    6: 1, 7: 2, 8: 1, 9: 3, 14: 1,  # DEQUANTIZE EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED LOGISTIC
    11: 1, 17: 1, 18: 2, 19: 1, 20: 1,  # L2_NORMALIZATION MAX_POOL_2D MUL RELU RELU_N1_TO_1
    21: 1, 22: 2, 25: 1, 28: 1, 34: 2,  # RELU6 RESHAPE SOFTMAX TANH PAD
    36: 2, 37: 3, 38: 3, 39: 2, 40: 2,  # GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN
    41: 2, 42: 2, 43: 1, 44: 28, 45: 4,  # SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
    47: 1, 49: 2, 53: 1, 54: 2, 55: 2,  # EXP SPLIT CAST PRELU MAXIMUM
    56: 2, 57: 2, 58: 2, 59: 1, 60: 3,  # ARG_MAX MINIMUM LESS NEG PADV2
    61: 2, 62: 2, 63: 2, 64: 3, 65: 3,  # GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE
    66: 1, 69: 2, 70: 2, 71: 2, 72: 2,  # SIN TILE EXPAND_DIMS EQUAL NOT_EQUAL
    73: 1, 74: 2, 75: 1, 76: 1, 77: 1,  # LOG SUM SQRT RSQRT SHAPE
    78: 2, 81: 2, 82: 2, 83: None, 84: 2,  # POW REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR
    86: 2, 87: 1, 88: 1, 89: 2, 90: 2,  # LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV
    91: 2, 92: 1, 93: 1, 94: 2, 95: 2,  # REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD
    96: 3, 98: 1, 99: 2, 100: 2, 101: 1,  # RANGE LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS
    102: 3, 104: 1, 105: 2, 107: 2, 108: 1,  # SPLIT_V CEIL REVERSE_V2 GATHER_ND COS
    111: 1, 114: 1, 116: 1, 117: 1, 119: None,  # ELU QUANTIZE ROUND HARD_SWISH WHILE
    123: 3, 126: 2, 128: 2, 130: 2, 132: 3,  # SELECT_V2 BATCH_MATMUL CUMSUM BROADCAST_TO CONV_3D
    150: 1, 158: 1,  # GELU SIGN
}
# fmt: on
MANY_OUTPUTS = {49, 88, 102}  # SPLIT, UNPACK, SPLIT_V: as many as their options count (checked there)
WHILE = 119


def arity_problem(builtin: int, inputs: int, outputs: int) -> str:
    """Why an op's tensor lists do not fit its builtin ('' when they do)."""
    if builtin not in MIN_INPUTS:
        return f"builtin op {builtin} is not one edgernn's exporters write"
    low, high = MIN_INPUTS[builtin], MAX_INPUTS[builtin]
    if inputs < low or (high is not None and inputs > high):
        return f"builtin {builtin} takes {low}..{high if high is not None else 'any'} inputs, got {inputs}"
    if builtin == WHILE:
        return "" if inputs == outputs else f"WHILE has {inputs} inputs but {outputs} outputs"
    if builtin in MANY_OUTPUTS:
        return "" if outputs >= 1 else f"builtin {builtin} has no outputs"
    return "" if outputs == 1 else f"builtin {builtin} has {outputs} outputs, expected 1"
