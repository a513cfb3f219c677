"""Helpers for the hardening tests: copy a bundle, swap a file in with a matching manifest entry."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgernn.runtime.bundle import sha256_bytes

BACKEND_OF = {"tflite": "litert", "onnx": "onnxruntime"}


def copy_bundle(bundle: Path, dst: Path) -> Path:
    shutil.copytree(bundle, dst)
    return dst


def edit_manifest(bundle: Path, change) -> dict:
    """Apply `change(manifest)` to bundle/manifest.json and write it back."""
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return manifest


def replace_file(bundle: Path, name: str, data: bytes) -> None:
    """Write `data` as `name` and record its true size and sha256, so only the content is hostile."""
    (bundle / name).write_bytes(data)

    def update(manifest):
        for entry in [*manifest["artifacts"], manifest["golden"]]:
            if entry["file"] == name:
                entry.update(bytes=len(data), sha256=sha256_bytes(data))

    edit_manifest(bundle, update)
