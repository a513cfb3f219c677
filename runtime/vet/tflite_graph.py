"""Structural checks of a .tflite graph that the LiteRT interpreter itself skips.

Mutation fuzzing (fuzz/) found files that load in LiteRT and then crash the process (SIGSEGV):
an op whose options disagree with its tensor lists (SPLIT with num_splits 0 or 131 for 3
outputs; PACK/UNPACK counts likewise). This walk rejects such files with ModelLoadError before
the interpreter parses them: every tensor, buffer, opcode and subgraph index in range, the options
of count-bearing ops present and consistent, no buffer pointing outside the file, no external
buffers. Field numbers follow tensorflow/compiler/mlir/lite/schema/schema.fbs.
"""

from __future__ import annotations

import struct

from ..errors import ModelLoadError, UnsupportedModelError
from .tflite_ops import _U16, _U32, CUSTOM_CODE, _Reader, arity_problem

# Model / SubGraph / Tensor / Operator / Buffer fields.
M_CODES, M_SUBGRAPHS, M_BUFFERS, M_EXT_GROUPS, M_EXT_BUFFERS = 1, 2, 4, 8, 9
SG_TENSORS, SG_INPUTS, SG_OUTPUTS, SG_OPERATORS = 0, 1, 2, 3
T_SHAPE, T_TYPE, T_BUFFER, T_SHAPE_SIGNATURE, T_EXT_BUFFER = 0, 1, 2, 7, 10
OP_OPCODE, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS_TYPE, OP_OPTIONS = 0, 1, 2, 3, 4
B_DATA, B_OFFSET, B_SIZE = 0, 1, 2
MAX_DIM = 1 << 24

# builtin op -> (options union type, options field holding a count, which list it must equal).
COUNTED = {
    49: (35, 0, OP_OUTPUTS),  # SPLIT: SplitOptions.num_splits == outputs
    102: (79, 0, OP_OUTPUTS),  # SPLIT_V: SplitVOptions.num_splits == outputs
    83: (59, 0, OP_INPUTS),  # PACK: PackOptions.values_count == inputs
    88: (64, 0, OP_OUTPUTS),  # UNPACK: UnpackOptions.num == outputs
}
WHILE, WHILE_OPTIONS = 119, 93

# Operator inputs that may be -1 (the schema's "optional tensor absent"); anywhere else the kernels
# index with it and crash (a 4-byte edit making FULLY_CONNECTED's weights -1 segfaulted allocate_tensors).
_LSTM_OPTIONAL = {1, 5, 9, 10, 11, 12, 16, 17, 20, 21, 22, 23}
OPTIONAL_INPUTS = {
    3: {2},  # CONV_2D: bias
    4: {2},  # DEPTHWISE_CONV_2D: bias
    9: {2},  # FULLY_CONNECTED: bias
    16: _LSTM_OPTIONAL,  # LSTM: CIFG input gate, peepholes, projection, layer norm
    27: {3},  # SVDF: bias
    44: _LSTM_OPTIONAL,  # UNIDIRECTIONAL_SEQUENCE_LSTM
    52: {1, 5, 9, 10, 11, 12, 16, 17, 18, 22, 26, 27, 28, 29, 33, 34, *range(35, 48)},  # BIDIRECTIONAL_SEQUENCE_LSTM
    67: {3},  # TRANSPOSE_CONV: bias
}
# Bytes per element by TensorType (schema.fbs); an unknown type counts as 8.
ITEM_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8, 15: 4, 16: 2, 17: 1, 18: 2}
MAX_TENSOR_BYTES = 256 << 20  # every declared tensor of a subgraph together (a small RNN's are KBs)
# Ops whose output size comes from a constant input: (input index holding the shape or multiples).
SHAPED_BY = {94: 0, 130: 1, 22: 1}  # FILL dims, BROADCAST_TO shape, RESHAPE new shape


_INTS: dict[int, struct.Struct] = {}  # compiled once per vector length up to _CACHED (cold start)
_CACHED = 64
_SLOTS: dict[int, struct.Struct] = {}  # at most one per width asked of slots()


class _Where:
    """'subgraph I op K', formatted only when an error message needs it (63 ops a load, no error)."""

    __slots__ = ("index", "op")

    def __init__(self, index: int, op: int) -> None:
        self.index, self.op = index, op

    def __str__(self) -> str:
        return f"subgraph {self.index} op {self.op}"


class _Graph(_Reader):
    # Vetting runs on every load (cold start, benchmarks/cold_start.py): the walk below reads each table's
    # vtable once (`slots`) and each field once, with the bounds checks of _Reader inlined where they run
    # per tensor and operator; vectors come back as tuples (no list copy).
    def bad(self, why: str) -> ModelLoadError:
        return ModelLoadError(f"{self.name}: not a valid .tflite file ({why}); re-export the bundle.")

    def ints(self, table: int, field: int) -> tuple[int, ...]:
        """An int32 vector field (() when absent)."""
        pos = self.field_pos(table, field)
        return self.ints_at(pos) if pos else ()

    def ints_at(self, pos: int) -> tuple[int, ...]:
        """The int32 vector of the field at `pos` (0, as `slots` marks an absent field: ())."""
        if not pos:
            return ()
        start, count = self.vector_at(pos, 4)
        packed = _INTS.get(count)
        if packed is None:
            packed = struct.Struct(f"<{count}i")
            if count <= _CACHED:  # shapes and op lists; a hostile file's odd lengths never grow the cache
                _INTS[count] = packed
        return packed.unpack_from(self.data, start)

    def slots(self, table: int, width: int) -> list[int]:
        """The position of each of `table`'s first `width` fields (0: absent), its vtable read in one go:
        field_pos for each of the five fields of every tensor and operator was most of a load's vetting.
        The same bounds as field_pos: every read slot lies in the file."""
        data, size, vtable = self.data, self.size, self.vtable(table)
        count = min(width, (_U16.unpack_from(data, vtable)[0] - 4) // 2)  # fields the vtable has slots for
        if count <= 0:
            return [0] * width
        if vtable + 4 + 2 * count > size:
            self._unpack("<H", vtable + 2 + 2 * count)  # the last slot: raises the out-of-range error
        packed = _SLOTS.get(count) or _SLOTS.setdefault(count, struct.Struct(f"<{count}H"))
        return [table + off if off else 0 for off in packed.unpack_from(data, vtable + 4)] + [0] * (width - count)

    def check(self) -> None:
        root = self.deref(0)
        tables = self.table_vector(root, M_CODES)
        codes = [max(self.scalar(c, 0, "<b", 0), self.scalar(c, 3, "<i", 0)) for c in tables]
        if CUSTOM_CODE in codes:  # as tflite_ops.custom_ops, from the codes this walk reads anyway
            found = {self.string(t, 1) or "<unnamed custom op>" for t, c in zip(tables, codes) if c == CUSTOM_CODE}
            raise UnsupportedModelError(
                f"{self.name}: uses custom or Flex ops {sorted(found)}, which standalone "
                "interpreters cannot run; re-export with builtin ops only."
            )
        if self.table_vector(root, M_EXT_BUFFERS) or self.table_vector(root, M_EXT_GROUPS):
            raise UnsupportedModelError(
                f"{self.name}: uses external buffers (data outside the file); "
                "re-export the bundle as one self-contained file."
            )
        buffers = self.table_vector(root, M_BUFFERS)
        filled = [self.buffer(buf) for buf in buffers]
        subgraphs = self.table_vector(root, M_SUBGRAPHS)
        if not subgraphs:
            raise self.bad("no subgraph")
        for index, sub in enumerate(subgraphs):
            self.subgraph(index, sub, codes, buffers, len(subgraphs), filled)

    def buffer(self, buf: int) -> bool:
        """Check a buffer's data lies in the file; whether it holds data (a constant's bytes)."""
        data_at, offset_at, size_at = self.slots(buf, 3)
        if not (offset_at or size_at):  # the common case: bytes inline in the file, or none
            return bool(data_at) and self.vector_at(data_at, 1)[1] > 0
        size = self.vector_at(data_at, 1)[1] if data_at else 0
        offset = self._unpack("<Q", offset_at) if offset_at else 0
        length = self._unpack("<Q", size_at) if size_at else 0
        if offset > 1 and offset + length > len(self.data):  # offset 1 marks "no data" in the schema
            raise self.bad(f"a buffer at offset {offset} of {length} bytes lies outside the file")
        return size > 0 or (offset > 1 and length > 0)

    def subgraph(
        self, index: int, sub: int, codes: list[int], buffers: list[int], n_subgraphs: int, filled: list[bool]
    ) -> None:
        n_buffers = len(buffers)
        tensors = self.table_vector(sub, SG_TENSORS)
        total, kinds, data, size, slots, ints_at = 0, [], self.data, self.size - 4, self.slots, self.ints_at
        for i, tensor in enumerate(tensors):
            at = slots(tensor, T_EXT_BUFFER + 1)
            pos = at[T_EXT_BUFFER]  # a slot lies in the file; its 4 bytes are checked here (_unpack's check)
            if pos and (_U32.unpack_from(data, pos)[0] if pos <= size else self._unpack("<I", pos)):
                raise UnsupportedModelError(f"{self.name}: tensor {i} uses an external buffer; re-export the bundle.")
            pos = at[T_BUFFER]  # 0 is the schema's "no external buffer" above, buffer 0 here
            buffer = (_U32.unpack_from(data, pos)[0] if pos <= size else self._unpack("<I", pos)) if pos else 0
            if buffer >= max(n_buffers, 1):
                raise self.bad(f"subgraph {index} tensor {i} names buffer {buffer} of {n_buffers}")
            shape = ints_at(at[T_SHAPE])
            for dims in (shape, ints_at(at[T_SHAPE_SIGNATURE])) if at[T_SHAPE_SIGNATURE] else (shape,):
                if dims and (min(dims) < -1 or max(dims) > MAX_DIM):
                    raise self.bad(f"subgraph {index} tensor {i} has shape {list(dims)}")
            kind = self._unpack("<b", at[T_TYPE]) if at[T_TYPE] else 0
            count = 1
            for d in shape:  # elements(shape), inlined: once per tensor of every load
                count *= d if d > 1 else 1
            total += count * ITEM_BYTES.get(kind, 8)
            kinds.append((buffer, kind))
        if total > MAX_TENSOR_BYTES:
            raise self.bad(f"subgraph {index} declares {total} bytes of tensors; the limit is {MAX_TENSOR_BYTES}")
        n = len(tensors)
        graph_inputs = self.ints(sub, SG_INPUTS)
        for what, listed in (("inputs", graph_inputs), ("outputs", self.ints(sub, SG_OUTPUTS))):
            if any(not 0 <= t < n for t in listed):
                raise self.bad(f"subgraph {index} {what} {list(listed)} outside its {n} tensors")
        # An op writing into a constant (its data is the file's own, read-only bytes: SIGSEGV, found by the
        # structure-aware fuzzer), into a subgraph input, or into a tensor another op writes.
        constant = {i for i, (buffer, _) in enumerate(kinds) if buffer < n_buffers and filled[buffer]}
        written = set(graph_inputs) | constant
        for k, op in enumerate(self.table_vector(sub, SG_OPERATORS)):
            at = slots(op, OP_OPTIONS + 1)
            inputs, outputs = ints_at(at[OP_INPUTS]), ints_at(at[OP_OUTPUTS])
            pos = at[OP_OPCODE]
            opcode = (_U32.unpack_from(data, pos)[0] if pos <= size else self._unpack("<I", pos)) if pos else 0
            builtin = codes[opcode] if opcode < len(codes) else -1
            named = inputs + outputs
            plain = named and min(named) >= 0 and max(named) < n and at[OP_OPTIONS_TYPE] <= size + 3
            if not plain or builtin in COUNTED or builtin == WHILE or arity_problem(builtin, len(inputs), len(outputs)):
                self.operator(_Where(index, k), at, codes, n, n_subgraphs, inputs, outputs)  # each check, in order
            if builtin in SHAPED_BY:
                self.shaped_output(_Where(index, k), builtin, inputs, kinds, buffers)
            if written.isdisjoint(outputs) and len(set(outputs)) == len(outputs):
                written.update(outputs)
                continue
            clash = [t for t in outputs if t in written]
            where = _Where(index, k)
            raise self.bad(
                f"{where} writes tensors {clash or list(outputs)} that are constants, inputs or written twice"
            )

    def has_data(self, buffers: list[int], index: int) -> bool:
        """Whether buffer `index` holds bytes (the tensor naming it is a constant)."""
        buf = buffers[index] if 0 <= index < len(buffers) else None
        return False if buf is None else self.buffer(buf)

    @staticmethod
    def elements(shape: list[int]) -> int:
        count = 1
        for d in shape:
            count *= max(d, 1)
        return count

    def shaped_output(self, where: object, builtin: int, inputs: list[int], kinds: list, buffers: list[int]) -> None:
        """An op that builds a tensor of a constant shape (FILL, BROADCAST_TO, RESHAPE): the shape's bytes."""
        at = SHAPED_BY.get(builtin)
        if at is None or at >= len(inputs) or inputs[at] < 0:
            return
        buffer, kind = kinds[inputs[at]]
        if buffer >= len(buffers):  # a model without buffers: nothing constant to read
            return
        found = self.vector(buffers[buffer], B_DATA, 1)
        width = {2: 4, 4: 8}.get(kind)
        if found is None or width is None or found[1] % width:
            return  # computed at run time: bounded by the interpreter's own allocation (and isolate=True)
        dims = struct.unpack_from(f"<{found[1] // width}{'i' if width == 4 else 'q'}", self.data, found[0])
        if any(d < -1 for d in dims) or self.elements(list(dims)) * 4 > MAX_TENSOR_BYTES:
            raise self.bad(f"{where} builds a tensor of shape {list(dims)}; the limit is {MAX_TENSOR_BYTES} bytes")

    def operator(
        self,
        where: object,
        at: list[int],
        codes: list[int],
        n_tensors: int,
        n_subgraphs: int,
        inputs: list,
        outputs: list,
    ) -> int:
        """Check one operator (`at`: the positions of its fields, see `slots`) against its opcode; returns
        the builtin code."""
        opcode = self._unpack("<I", at[OP_OPCODE]) if at[OP_OPCODE] else 0
        if opcode >= len(codes):
            raise self.bad(f"{where} uses opcode {opcode} of {len(codes)}")
        named = inputs + outputs
        if named and (min(named) < -1 or max(named) >= n_tensors):
            raise self.bad(f"{where} names tensors {list(inputs)} -> {list(outputs)} outside 0..{n_tensors - 1}")
        builtin = codes[opcode]
        problem = arity_problem(builtin, len(inputs), len(outputs))
        if problem:
            if problem.startswith("builtin op"):
                raise UnsupportedModelError(
                    f"{self.name}: {where}: {problem}; re-export the bundle with 'edgernn export'."
                )
            raise self.bad(f"{where}: {problem}")
        if -1 in inputs:
            optional = OPTIONAL_INPUTS.get(builtin, ())
            absent = [k for k, t in enumerate(inputs) if t == -1 and k not in optional]
            if absent:
                raise self.bad(f"{where} (builtin {builtin}) marks inputs {absent} absent (-1); the op requires them")
        if -1 in outputs:
            raise self.bad(f"{where} (builtin {builtin}) marks an output absent (-1)")
        options_type = self._unpack("<B", at[OP_OPTIONS_TYPE]) if at[OP_OPTIONS_TYPE] else 0  # in the file
        if builtin not in COUNTED and builtin != WHILE:
            return builtin
        options_pos = at[OP_OPTIONS] or None
        if builtin in COUNTED:
            union, field, against = COUNTED[builtin]
            count = (
                None
                if options_type != union or options_pos is None
                else self.scalar(self.deref(options_pos), field, "<i", 0)
            )
            listed = len(inputs if against == OP_INPUTS else outputs)
            if count != listed or count == 0:
                raise self.bad(f"{where} (builtin {builtin}) declares {count} tensors but lists {listed}")
        elif builtin == WHILE:
            if options_type != WHILE_OPTIONS or options_pos is None:
                raise self.bad(f"{where} (WHILE) has no WhileOptions")
            table = self.deref(options_pos)
            for field in (0, 1):
                if not 0 <= self.scalar(table, field, "<i", 0) < n_subgraphs:
                    raise self.bad(
                        f"{where} (WHILE) names subgraph {self.scalar(table, field, '<i', 0)} of {n_subgraphs}"
                    )
        return builtin


def check_graph(data: bytes, name: str = "model.tflite") -> None:
    """Check a .tflite file's indices and op counts before an interpreter parses it.

    Raises:
        ModelLoadError: an index or count is out of range or inconsistent.
        UnsupportedModelError: the file declares custom or Flex ops (named), or keeps data in external buffers.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError(f"{name}: not a .tflite file (no 'TFL3' identifier); re-export the bundle.")
    _Graph(data, name).check()
