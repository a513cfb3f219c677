"""Structure-aware mutators: edits that keep a file parseable and aim at the fields native code trusts.

Byte flips mostly produce files every parser refuses at once. These mutate what a runtime indexes
with or allocates from, in files that still parse:
- .tflite: operator input/output indices, subgraph inputs/outputs, tensor shapes and buffer indices,
  opcode indices, SPLIT/PACK counts and WHILE subgraph indices (offsets found with the runtime's own
  flatbuffer reader), set to boundary values (-1, 0, n - 1, n, 2^31 - 1, ...);
- .onnx (with the `onnx` package): initializer dims and data, node inputs (renamed, emptied, swapped),
  integer attributes, and inserted ConstantOfShape / Expand / Loop nodes fed by constants;
- .npz: member names, .npy header shapes and dtypes, compression, duplicated and dropped members.
`seeds(fmt, data)` are the hostile cases found by hand (issue 16's red-team list), each a mutant too.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zipfile

from edgernn.runtime.vet import tflite_graph as tg

KINDS = ("tflite_index", "tflite_shape", "tflite_count", "onnx_dims", "onnx_inputs", "onnx_attr", "onnx_insert")
KINDS += ("npz_header", "npz_members")
FORMAT_KINDS = {
    "tflite": ("tflite_index", "tflite_shape", "tflite_count"),
    "onnx": ("onnx_dims", "onnx_inputs", "onnx_attr", "onnx_insert"),
    "numpy": ("npz_header", "npz_members"),
}


def boundary(n: int, rng: random.Random) -> int:
    return rng.choice((-1, 0, 1, n - 1, n, n + 1, 2**31 - 1, -(2**31), 1 << 20, rng.randrange(-4, 64)))


class _Slots(tg._Graph):
    """Positions of the int32/uint32 fields of a .tflite, by what they hold."""

    def collect(self) -> dict[str, list[tuple[int, int]]]:
        slots: dict[str, list[tuple[int, int]]] = {"index": [], "shape": [], "count": []}
        root = self.deref(0)
        for sub in self.table_vector(root, tg.M_SUBGRAPHS):
            tensors = self.table_vector(sub, tg.SG_TENSORS)
            n = len(tensors)
            for field in (tg.SG_INPUTS, tg.SG_OUTPUTS):
                slots["index"] += self._ints(sub, field, n)
            for tensor in tensors:
                slots["shape"] += self._ints(tensor, tg.T_SHAPE, 1 << 10)
                pos = self.field_pos(tensor, tg.T_BUFFER)
                slots["index"] += [(pos, n)] if pos is not None else []
            for op in self.table_vector(sub, tg.SG_OPERATORS):
                slots["index"] += self._ints(op, tg.OP_INPUTS, n) + self._ints(op, tg.OP_OUTPUTS, n)
                pos = self.field_pos(op, tg.OP_OPCODE)
                slots["index"] += [(pos, n)] if pos is not None else []
                options = self.field_pos(op, tg.OP_OPTIONS)
                if options is not None:
                    table = self.deref(options)
                    for field in (0, 1):
                        pos = self.field_pos(table, field)
                        slots["count"] += [(pos, 4)] if pos is not None else []
        return slots

    def _ints(self, table: int, field: int, n: int) -> list[tuple[int, int]]:
        found = self.vector(table, field, 4)
        return [] if found is None else [(found[0] + 4 * i, n) for i in range(found[1])]


def mutate_tflite(data: bytes, kind: str, rng: random.Random) -> bytes:
    slots = _Slots(data, "model.tflite").collect()[
        {"tflite_index": "index", "tflite_shape": "shape"}.get(kind, "count")
    ]
    buf = bytearray(data)
    for pos, n in rng.sample(slots, min(len(slots), rng.randint(1, 3))):
        struct.pack_into("<i", buf, pos, boundary(n, rng))
    return bytes(buf)


def mutate_onnx(data: bytes, kind: str, rng: random.Random) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(data)
    graph = model.graph
    names = (
        [i.name for i in graph.input] + [o for n in graph.node for o in n.output] + [i.name for i in graph.initializer]
    )
    if kind == "onnx_dims" and graph.initializer:
        tensor = rng.choice(list(graph.initializer))
        if tensor.dims:
            tensor.dims[rng.randrange(len(tensor.dims))] = boundary(max(tensor.dims), rng)
        else:
            tensor.dims.append(boundary(4, rng))
        if rng.random() < 0.3:
            tensor.raw_data = tensor.raw_data[: rng.randrange(len(tensor.raw_data) + 1)]
    elif kind == "onnx_inputs":
        node = rng.choice(list(graph.node))
        if node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice([*names, "", "missing"])
    elif kind == "onnx_attr":
        candidates = [(n, a) for n in graph.node for a in n.attribute if a.type == onnx.AttributeProto.INT]
        if candidates:
            _, attr = rng.choice(candidates)
            attr.i = boundary(attr.i, rng)
    else:  # onnx_insert: a node that builds a tensor from constants, feeding an existing value
        shape = helper.make_tensor("fuzz_shape", TensorProto.INT64, [3], [boundary(8, rng) for _ in range(3)])
        graph.initializer.append(shape)
        op = rng.choice(("ConstantOfShape", "Expand", "Tile"))
        value = rng.choice(names)
        inputs = ["fuzz_shape"] if op == "ConstantOfShape" else [value, "fuzz_shape"]
        graph.node.insert(rng.randrange(len(graph.node) + 1), helper.make_node(op, inputs, [f"fuzz_{op}"]))
        target = rng.choice(list(graph.node))
        if target.input:
            target.input[0] = f"fuzz_{op}"
    return model.SerializeToString()


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(m.filename, archive.read(m)) for m in archive.infolist()]


def _zip(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", compression) as archive:
        warnings.simplefilter("ignore")  # a duplicated member name is the point of that mutant
        for name, payload in members:
            archive.writestr(name, payload)
    return out.getvalue()


def mutate_npz(data: bytes, kind: str, rng: random.Random) -> bytes:
    members = _members(data)
    i = rng.randrange(len(members))
    name, payload = members[i]
    if kind == "npz_header":
        end = payload.index(b"\n") if b"\n" in payload else len(payload)
        header = payload[:end].decode("latin-1")
        start = header.find("'shape': (")
        if start >= 0 and rng.random() < 0.6:
            stop = header.index(")", start)
            dims = ", ".join(str(abs(boundary(8, rng))) for _ in range(rng.randint(1, 3)))
            header = header[: start + 10] + dims + ("," if "," not in dims else "") + header[stop:]
        else:
            header = header.replace(rng.choice(("<f4", "False")), rng.choice(("|O", "<f8", "True", "<i8", "|V8")), 1)
        members[i] = (name, header.encode("latin-1") + payload[end:])
    else:
        action = rng.choice(("rename", "duplicate", "drop", "deflate", "traverse"))
        if action == "rename":
            members[i] = (rng.choice(("x.npy", "spec", "../spec.npy", name.upper(), name + ".npy")), payload)
        elif action == "duplicate":
            members.append(members[i])
        elif action == "drop" and len(members) > 1:
            members.pop(i)
        elif action == "traverse":
            members[i] = ("/etc/" + name, payload)
        return _zip(members, zipfile.ZIP_DEFLATED if action == "deflate" else zipfile.ZIP_STORED)
    return _zip(members)


MUTATORS = {"tflite": mutate_tflite, "onnx": mutate_onnx, "numpy": mutate_npz}


def mutate(data: bytes, fmt: str, kind: str, rng: random.Random) -> bytes:
    """One structure-aware mutant of `data` (a `fmt` artifact); a kind that found nothing to edit
    falls back to a byte overwrite, so every mutant differs from its source."""
    out = MUTATORS[fmt](data, kind, rng)
    if out == data:
        buf = bytearray(data)
        buf[rng.randrange(len(buf))] ^= 0xFF
        out = bytes(buf)
    return out
