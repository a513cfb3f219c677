"""manifest.json: the bundle's schema, and the checks that run before any model file is opened.

Preprocessing convention: ``x_model = (x_raw - offset) * scale`` per input feature, and outputs are
mapped back the inverse way, ``y_raw = y_model / scale + offset`` per output.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ManifestError

FORMAT_NAME = "edgernn-bundle"
SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20
ARTIFACT_SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx", "numpy": ".npz"}  # format -> file suffix
ARTIFACT_FORMATS = tuple(ARTIFACT_SUFFIXES)
REQUIRED_KEYS = ("format", "schema_version", "input", "output", "preprocessing", "artifacts", "golden")
ARTIFACT_KEYS = ("file", "format", "variant", "bytes", "sha256")


@dataclass(frozen=True)
class Affine:
    """Per-channel ``model = (raw - offset) * scale``."""

    offset: np.ndarray
    scale: np.ndarray

    @cached_property  # read on every predict/step: two np.all calls cost ~10 us, computed once instead
    def identity(self) -> bool:
        return bool(np.all(self.offset == 0) and np.all(self.scale == 1))

    def to_model(self, raw: np.ndarray) -> np.ndarray:
        return raw if self.identity else (raw - self.offset) * self.scale

    def to_raw(self, model: np.ndarray) -> np.ndarray:
        return model if self.identity else model / self.scale + self.offset


@dataclass(frozen=True)
class Spec:
    """What the model takes and returns, read from the manifest."""

    timesteps: int
    features: int
    outputs: int
    sequence_output: bool
    x: Affine
    y: Affine


def read_manifest(bundle: Path) -> dict[str, Any]:
    """Read and check `bundle/manifest.json`.

    Raises:
        ManifestError: missing file, bad JSON, unknown format or schema, or bad values.
    """
    path = bundle / MANIFEST_FILE
    if not bundle.is_dir():
        raise ManifestError(f"{bundle} is not a bundle directory (expected a folder with {MANIFEST_FILE}).")
    if path.exists() and not path.is_file():
        raise ManifestError(f"{path} is not a regular file; a bundle holds plain files only.")
    if path.is_file() and path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path} is {path.stat().st_size} bytes; a manifest is a few KB (limit {MAX_MANIFEST_BYTES}).")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{bundle} has no {MANIFEST_FILE}; export the model again with 'edgernn export'.") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise ManifestError(f"{path} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}); "
                            "re-export the bundle.") from None
    check_manifest(manifest, path)
    return manifest


def check_manifest(manifest: Any, where: Path | str = MANIFEST_FILE) -> None:
    """Check the manifest's structure and values; raise ManifestError naming the first problem."""
    if not isinstance(manifest, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(manifest).__name__}.")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ManifestError(f"{where}: missing keys {missing}; re-export the bundle.")
    if manifest["format"] != FORMAT_NAME:
        raise ManifestError(f"{where}: format is {manifest['format']!r}, expected {FORMAT_NAME!r}.")
    if type(manifest["schema_version"]) is not int or manifest["schema_version"] != SCHEMA_VERSION:
        raise ManifestError(
            f"{where}: schema_version {manifest['schema_version']!r} is not supported by this edgernn "
            f"(it reads version {SCHEMA_VERSION}); upgrade edgernn or re-export the bundle."
        )
    spec = spec_from_manifest(manifest, where)
    artifacts = manifest["artifacts"]
    if not isinstance(artifacts, list) or not artifacts:
        raise ManifestError(f"{where}: 'artifacts' must be a non-empty list.")
    for art in artifacts:
        check_artifact_entry(art, where)
    files = [a["file"] for a in artifacts]
    if len(set(files)) != len(files):
        raise ManifestError(f"{where}: artifact files {files} repeat a name; each artifact needs its own file.")
    check_file_entry(manifest["golden"], "golden", where)
    check_optional_blocks(manifest, where)
    del spec


def check_optional_blocks(manifest: dict[str, Any], where: Path | str) -> None:
    """The optional blocks code reads (source, model, streaming): junk there is a ManifestError, not a crash."""
    if "source" in manifest:  # integrity checks hash it when model.keras ships
        check_file_entry(manifest["source"], "source", where)
    for key in ("model", "streaming"):
        if key in manifest and not isinstance(manifest[key], dict):
            raise ManifestError(f"{where}: {key} must be an object, got {type(manifest[key]).__name__}.")
    cells = manifest.get("model", {}).get("cells", [])
    if not (isinstance(cells, list) and all(isinstance(c, str) for c in cells)):
        raise ManifestError(f"{where}: model.cells is {cells!r}; expected a list of cell names like ['lstm'].")
    states = manifest.get("streaming", {}).get("states", [])
    if not (isinstance(states, list) and all(isinstance(s, dict) for s in states)):
        raise ManifestError(f"{where}: streaming.states is {states!r}; expected a list of state objects.")


def check_artifact_entry(art: Any, where: Path | str) -> None:
    if not isinstance(art, dict):
        raise ManifestError(f"{where}: each artifact must be an object, got {art!r}.")
    missing = [k for k in ARTIFACT_KEYS if k not in art]
    if missing:
        raise ManifestError(f"{where}: artifact {art.get('file', '?')!r} is missing {missing}.")
    if art["format"] not in ARTIFACT_FORMATS:
        raise ManifestError(
            f"{where}: artifact {art['file']!r} has format {art['format']!r}; expected one of {ARTIFACT_FORMATS}."
        )
    check_file_entry(art, f"artifact {art['file']!r}", where)
    suffix = ARTIFACT_SUFFIXES[art["format"]]
    if not art["file"].endswith(suffix):
        raise ManifestError(f"{where}: artifact {art['file']!r} has format {art['format']!r} but not the "
                            f"'{suffix}' suffix; the manifest and the file disagree.")
    for key in ("variant", "role"):
        if key in art and not (isinstance(art[key], str) and art[key]):
            raise ManifestError(f"{where}: artifact {art['file']!r} has {key} {art[key]!r}; expected a name.")
    tol = art.get("tolerance", 0.0)  # validate holds each artifact to it
    if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and math.isfinite(tol) and tol >= 0):
        raise ManifestError(f"{where}: artifact {art['file']!r} has tolerance {tol!r}; "
                            "expected a finite non-negative number.")


def check_file_entry(entry: Any, what: str, where: Path | str) -> None:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: {what} must be an object with file, bytes and sha256.")
    safe_file_name(entry.get("file"), where)
    sha = entry.get("sha256")
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise ManifestError(f"{where}: {what} has sha256 {sha!r}; expected 64 lowercase hex digits.")
    size = entry.get("bytes")
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
        raise ManifestError(f"{where}: {what} has bytes {size!r}; expected a non-negative integer.")


def safe_file_name(name: Any, where: Path | str = MANIFEST_FILE) -> str:
    """Return `name` if it is a plain file name inside the bundle, else raise ManifestError."""
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise ManifestError(f"{where}: file name {name!r} is not a plain file name.")
    bad = "/" in name or "\\" in name or ".." in name or os.path.isabs(name) or "\x00" in name
    if bad or (os.sep in name) or (os.altsep and os.altsep in name):
        raise ManifestError(
            f"{where}: file name {name!r} must be a plain name inside the bundle (no '..', separators "
            "or absolute paths)."
        )
    return name


def _positive_int(value: Any, what: str, where: Path | str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise ManifestError(f"{where}: {what} is {value!r}; expected a positive integer.")
    return value


def _affine(entry: Any, size: int, what: str, where: Path | str) -> Affine:
    if not isinstance(entry, dict) or "scale" not in entry or "offset" not in entry:
        raise ManifestError(f"{where}: preprocessing.{what} needs 'scale' and 'offset'.")
    extra = sorted(set(entry) - {"scale", "offset"})
    if extra:  # a step this runtime would silently skip (clipping, a log) would give wrong answers
        raise ManifestError(f"{where}: preprocessing.{what} has keys {extra} this edgernn does not apply "
                            "(it knows 'offset' and 'scale'); upgrade edgernn or re-export the bundle.")
    arrays = []
    for key in ("offset", "scale"):
        value = entry[key]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ManifestError(f"{where}: preprocessing.{what}.{key} is {value!r}; expected numbers.")
        if len(values) not in (1, size):
            raise ManifestError(
                f"{where}: preprocessing.{what}.{key} has {len(values)} values; expected 1 or {size}."
            )
        if not all(math.isfinite(v) for v in values):
            raise ManifestError(f"{where}: preprocessing.{what}.{key} is {value!r}; values must be finite.")
        arrays.append(np.asarray(values, dtype=np.float32))
    if np.any(arrays[1] == 0):
        raise ManifestError(f"{where}: preprocessing.{what}.scale contains 0; a scale must be non-zero.")
    return Affine(offset=arrays[0], scale=arrays[1])


def spec_from_manifest(manifest: dict[str, Any], where: Path | str = MANIFEST_FILE) -> Spec:
    """Build the runtime Spec (shapes and preprocessing) from a manifest dict."""
    inp, out, pre = manifest.get("input"), manifest.get("output"), manifest.get("preprocessing")
    if not isinstance(inp, dict) or not isinstance(out, dict) or not isinstance(pre, dict):
        raise ManifestError(f"{where}: 'input', 'output' and 'preprocessing' must be objects.")
    timesteps = _positive_int(inp.get("timesteps"), "input.timesteps", where)
    features = _positive_int(inp.get("features"), "input.features", where)
    outputs = _positive_int(out.get("outputs"), "output.outputs", where)
    for what, block in (("input", inp), ("output", out)):
        if block.get("dtype", "float32") != "float32":
            raise ManifestError(f"{where}: {what}.dtype is {block['dtype']!r}; this edgernn feeds and reads float32 only.")
    if not isinstance(out.get("sequence", False), bool):
        raise ManifestError(f"{where}: output.sequence is {out['sequence']!r}; expected true or false.")
    return Spec(
        timesteps=timesteps,
        features=features,
        outputs=outputs,
        sequence_output=bool(out.get("sequence", False)),
        x=_affine(pre.get("input"), features, "input", where),
        y=_affine(pre.get("output"), outputs, "output", where),
    )
