"""Helpers shared by the tests: read a bundle's manifest, copy a bundle, swap a file in with a
matching manifest entry, record which (cell, format, variant, role, backend) a test proved, and find
offsets in a .tflite file to edit (TfliteOffsets)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from edgernn.runtime.backends import REGISTRY, backends_for, formats_of, installed
from edgernn.runtime.bundle import sha256_bytes
from edgernn.runtime.manifest import SUFFIXES
from edgernn.runtime.vet.tflite_graph import (
    M_SUBGRAPHS,
    OP_INPUTS,
    OP_OPCODE,
    SG_OPERATORS,
    SG_TENSORS,
    T_SHAPE,
    _Graph,
)

BACKEND_OF = {fmt: backends_for(fmt)[0] for fmt in SUFFIXES if fmt != "c"}  # one backend per default format

# (cell, format, variant, role, backend) combinations a test ran and checked against Keras;
# tests/e2e/test_matrix.py compares them with every combination the registries allow.
COVERED: set[tuple[str, str, str, str, str]] = set()


def covered(cell: str, fmt: str, variant: str, role: str, backend: str) -> None:
    """Call after an assertion on values passed: this combination is proven by a test."""
    COVERED.add((cell, fmt, variant, role, backend))


def manifest_json(bundle: Path) -> dict[str, Any]:
    """manifest.json as written on disk (the JSON contract, not the runtime's parse of it)."""
    return json.loads((Path(bundle) / "manifest.json").read_text())


def artifact_json(bundle: Path, fmt: str, variant: str = "float32", role: str = "model") -> dict[str, Any]:
    """The manifest entry of the artifact of this format, variant and role."""
    return next(
        a
        for a in manifest_json(bundle)["artifacts"]
        if a["format"] == fmt and a["variant"] == variant and a.get("role", "model") == role
    )


def copy_bundle(bundle: Path, dst: Path) -> Path:
    shutil.copytree(bundle, dst)
    return dst


def edit_manifest(bundle: Path, change: Callable[[dict[str, Any]], Any], *, prune: bool = False) -> dict[str, Any]:
    """Apply `change(manifest)` to bundle/manifest.json and write it back; with `prune`, delete the files
    the edited manifest no longer lists (a bundle holds only listed files)."""
    path = Path(bundle) / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    if prune:
        listed = {a["file"] for a in data["artifacts"]} | {data["golden"]["file"], "manifest.json"}
        listed |= {data["source"]["file"]} if "source" in data else set()
        for child in Path(bundle).iterdir():
            if child.name not in listed:
                child.unlink()
    return data


def replace_file(bundle: Path, name: str, data: bytes) -> None:
    """Write `data` as `name` and record its true size and sha256, so only the content is hostile."""
    (Path(bundle) / name).write_bytes(data)

    def update(m):
        for entry in [*m["artifacts"], m["golden"]]:
            if entry["file"] == name:
                entry.update(bytes=len(data), sha256=sha256_bytes(data))

    edit_manifest(bundle, update)


def default_backends() -> list[str]:
    """Registered backends that run the artifacts a default export writes: not `c` (only bundles exported
    with --formats c) nor `tflm` (only the tflm variant). No edgernn.export import: runtime-only venvs run this."""
    return [b for b in REGISTRY if formats_of(b) != ("c",) and not REGISTRY[b].variants]  # tflm: its variant only


def installed_default_backends() -> list[str]:
    """default_backends() that are installed here, in `auto` order."""
    return [b for b in installed() if b in default_backends()]


class TfliteOffsets(_Graph):
    """Offsets in the first subgraph: an operator's input list, a tensor's shape vector."""

    def first(self):
        root = self.deref(0)
        codes = [max(self.scalar(c, 0, "<b", 0), self.scalar(c, 3, "<i", 0)) for c in self.table_vector(root, 1)]
        return codes, self.table_vector(root, M_SUBGRAPHS)[0]

    def op_inputs(self, builtin: int) -> int:
        codes, sub = self.first()
        for op in self.table_vector(sub, SG_OPERATORS):
            if codes[self.scalar(op, OP_OPCODE, "<I", 0)] == builtin:
                return self.vector(op, OP_INPUTS, 4)[0]
        raise AssertionError(f"no builtin {builtin}")

    def shape_of_rank(self, rank: int) -> int:
        _, sub = self.first()
        for tensor in self.table_vector(sub, SG_TENSORS):
            found = self.vector(tensor, T_SHAPE, 4)
            if found and found[1] == rank:
                return found[0]
        raise AssertionError(f"no tensor of rank {rank}")
