"""A bounds-checked reader for the operator codes of a .tflite flatbuffer.

It lets the runtime refuse Flex and custom ops before an interpreter parses the file, with
nothing but the standard library. Layout per the TFLite schema: Model.operator_codes is field 1,
OperatorCode fields are deprecated_builtin_code (0, int8), custom_code (1, string) and
builtin_code (3, int32); the effective code is the larger of the two codes.
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
