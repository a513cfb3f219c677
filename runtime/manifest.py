"""manifest.json as typed records: parsed and checked once, queried with one method, written back.

Preprocessing convention: ``x_model = (x_raw - offset) * scale`` per input feature, and outputs are
mapped back the inverse way, ``y_raw = y_model / scale + offset`` per output.

    manifest = Manifest.read(Path("models/seed-lstm"))
    manifest.artifacts(role="model", variant="float32")   # -> [ArtifactEntry, ...]
    manifest.to_json()                                      # -> the dict export writes

Export builds a `Manifest` and writes `to_json()`; the runtime parses one with `Manifest.parse`,
which raises ManifestError naming the first problem. Keys the records do not model (training
metrics, producer versions, exporter details of an artifact) ride along in `extra`, unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import checks
from .errors import ManifestError, UnsupportedModelError

FORMAT_NAME = "edgernn-bundle"
SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20
# Artifact format -> file suffix: the runtime's half of the format registry (export/formats/ reads it).
SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx", "numpy": ".npz"}
MODEL_ROLE, STEP_ROLE = "model", "step"
ROLES = (MODEL_ROLE, STEP_ROLE)
DEFAULT_VARIANT = "float32"
REQUIRED_KEYS = ("format", "schema_version", "input", "output", "preprocessing", "artifacts", "golden")
ARTIFACT_KEYS = ("file", "format", "variant", "bytes", "sha256")
CONVENTION = "x_model = (x_raw - offset) * scale; y_raw = y_model / scale + offset"


@dataclass(frozen=True, eq=False)
class Affine:
    """Per-channel ``model = (raw - offset) * scale``: the one place preprocessing is applied.

    `to_model` and `to_raw` run on every predict and step, so each step is folded once into its
    cheapest operand (see `operands`); every form computes in float32, bit-identical to the formula.
    """

    offset: np.ndarray
    scale: np.ndarray

    @cached_property
    def operands(self) -> tuple[Any, Any]:
        """(offset, scale): None where the step is the identity, a numpy float32 scalar when one value
        serves every channel (numpy's fastest ufunc path), else the float32 array."""

        def simplest(values: np.ndarray, neutral: float) -> Any:
            if np.all(values == neutral):
                return None
            return np.float32(values[0]) if np.all(values == values[0]) else values

        return simplest(self.offset, 0.0), simplest(self.scale, 1.0)

    @cached_property
    def identity(self) -> bool:
        return all(o is None for o in self.operands)

    def to_model(self, raw: np.ndarray) -> np.ndarray:
        offset, scale = self.operands
        if offset is not None:
            raw = np.subtract(raw, offset)  # the ufuncs directly: skips the operator's dispatch
        return raw if scale is None else np.multiply(raw, scale)

    def to_raw(self, model: np.ndarray) -> np.ndarray:
        offset, scale = self.operands
        if scale is not None:
            model = np.true_divide(model, scale)
        return model if offset is None else np.add(model, offset)

    def to_json(self) -> dict[str, list[float]]:
        return {"offset": [float(v) for v in self.offset], "scale": [float(v) for v in self.scale]}


@dataclass(frozen=True, eq=False)
class Spec:
    """What the model takes and returns: shapes and the preprocessing of both ends."""

    timesteps: int
    features: int
    outputs: int
    sequence_output: bool
    x: Affine
    y: Affine


@dataclass(frozen=True)
class FileEntry:
    """A file of the bundle that is not an artifact (golden.npz, model.keras): name, size, sha256."""

    file: str
    bytes: int
    sha256: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Any, what: str, where: checks.Where) -> FileEntry:
        raw = checks.obj(raw, what, where)
        return cls(
            checks.file_name(raw.get("file"), where),
            checks.size(raw.get("bytes"), what, where),
            checks.sha256(raw.get("sha256"), what, where),
            {k: v for k, v in raw.items() if k not in ("file", "bytes", "sha256")},
        )

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "bytes": self.bytes, "sha256": self.sha256, **self.extra}


# Fields of an artifact entry the code reads, in the order they are written; the rest are `extra`.
_PROOF = ("max_abs_error", "mean_abs_error", "max_rel_error", "tolerance", "verified_with")


@dataclass(frozen=True)
class ArtifactEntry:
    """One model file of the bundle: what it is, its bytes, and how well it matched Keras.

    `tolerance` is the bound `validate` holds it to; `checked_on="holdout"` means it was measured
    (and is re-checked) on the held-out windows in golden.npz, as quantized variants are.
    """

    file: str
    format: str
    variant: str = DEFAULT_VARIANT
    role: str = MODEL_ROLE
    bytes: int = 0
    sha256: str = ""
    graph_form: str = ""
    graph_form_reason: str = ""
    batch: int | None = None  # None: a free batch dimension
    ops: Mapping[str, int] = field(default_factory=dict)
    reset_variables: bool = False  # TFLite's fused LSTM keeps h/c in variable tensors between invokes
    checked_on: str = ""
    output_range: float | None = None
    max_abs_error: float | None = None
    mean_abs_error: float | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    verified_with: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # opset, weights, quantization, forms_refused, ...

    @property
    def key(self) -> tuple[str, str, str]:
        return self.format, self.variant, self.role

    def with_(self, **changes: Any) -> ArtifactEntry:
        """A copy with `changes`; names that are not fields go into `extra`."""
        names = set(self.__dataclass_fields__)
        extra = {**self.extra, **{k: v for k, v in changes.items() if k not in names}}
        return replace(self, **{k: v for k, v in changes.items() if k in names}, extra=extra)

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> ArtifactEntry:
        if not isinstance(raw, dict):
            raise ManifestError(f"{where}: each artifact must be an object, got {raw!r}.")
        missing = [k for k in ARTIFACT_KEYS if k not in raw]
        if missing:
            raise ManifestError(f"{where}: artifact {raw.get('file', '?')!r} is missing {missing}.")
        what = f"artifact {raw['file']!r}"
        file = FileEntry.parse(raw, what, where)
        fmt = raw["format"]
        if not isinstance(fmt, str) or fmt not in SUFFIXES:
            raise ManifestError(f"{where}: {what} has format {fmt!r}; expected one of {tuple(SUFFIXES)}.")
        if not file.file.endswith(SUFFIXES[fmt]):
            raise ManifestError(
                f"{where}: {what} has format {fmt!r} but not the '{SUFFIXES[fmt]}' suffix; "
                "the manifest and the file disagree."
            )
        variant = checks.name(raw["variant"], f"{what} variant", where)
        role = checks.name(raw.get("role", MODEL_ROLE), f"{what} role", where)
        tol = raw.get("tolerance")
        if "tolerance" in raw:  # validate holds each artifact to it
            checks.finite(tol, f"{what} has tolerance", where, minimum=0)
        batch = raw.get("batch", "dynamic")
        known = {
            "file",
            "format",
            "variant",
            "role",
            "bytes",
            "sha256",
            "graph_form",
            "graph_form_reason",
            "batch",
            "ops",
            "reset_variables",
            "checked_on",
            "output_range",
            *_PROOF,
        }
        return cls(
            file=file.file,
            format=fmt,
            variant=variant,
            role=role,
            bytes=file.bytes,
            sha256=file.sha256,
            graph_form=str(raw.get("graph_form", "")),
            graph_form_reason=str(raw.get("graph_form_reason", "")),
            batch=batch if isinstance(batch, int) and not isinstance(batch, bool) else None,
            ops=_mapping(raw.get("ops")),
            reset_variables=raw.get("reset_variables") is True,
            checked_on=str(raw.get("checked_on", "")),
            output_range=_number(raw.get("output_range")),
            max_abs_error=_number(raw.get("max_abs_error")),
            mean_abs_error=_number(raw.get("mean_abs_error")),
            max_rel_error=_number(raw.get("max_rel_error")),
            tolerance=_number(tol),
            verified_with=tuple(v for v in raw.get("verified_with") or () if isinstance(v, str))
            if isinstance(raw.get("verified_with"), list)
            else (),
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "format": self.format,
            "variant": self.variant,
            "role": self.role,
            "graph_form": self.graph_form,
            "graph_form_reason": self.graph_form_reason,
            "batch": "dynamic" if self.batch is None else self.batch,
            "ops": dict(sorted(self.ops.items())),
            **self.extra,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }
        if self.reset_variables:
            out["reset_variables"] = True
        for key in ("checked_on", "output_range", *_PROOF):
            value = getattr(self, key)
            if value not in (None, "", ()):
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


def _mapping(value: Any) -> dict[str, Any]:
    """An informational object (ops counts): kept when it is one, else empty; no answer depends on it."""
    return dict(value) if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class StateSpec:
    """One state tensor of a step model: its input name, the name of its next value, its width."""

    name: str
    output: str
    size: int
    layer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "output": self.output, "shape": [self.size], "layer": self.layer, "initial": "zeros"}


@dataclass(frozen=True)
class StreamingBlock:
    """The manifest's `streaming` block: the step models' tensor names and state shapes (zeros at start)."""

    input: str
    output: str
    states: tuple[StateSpec, ...]

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> StreamingBlock:
        raw = checks.obj(raw, "streaming", where)
        states = raw.get("states", [])
        if not (isinstance(states, list) and all(isinstance(s, dict) for s in states)):
            raise ManifestError(f"{where}: streaming.states is {states!r}; expected a list of state objects.")
        try:
            parsed = tuple(
                StateSpec(str(s["name"]), str(s["output"]), int(s["shape"][-1]), str(s.get("layer", "")))
                for s in states
            )
            block = cls(str(raw["input"]), str(raw["output"]), parsed)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ManifestError(
                f"{where}: the 'streaming' block is malformed ({type(exc).__name__}: {exc}); "
                "re-export with --streaming."
            ) from None
        if not parsed or any(s.size <= 0 for s in parsed):
            raise ManifestError(f"{where}: the 'streaming' block lists states {states!r}; expected positive widths.")
        return block

    @property
    def input_names(self) -> list[str]:
        return [self.input, *(s.name for s in self.states)]

    @property
    def output_names(self) -> list[str]:
        return [self.output, *(s.output for s in self.states)]

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "states": [s.to_json() for s in self.states],
            "initial_state": "zeros",
            "state_units": "model",
            "convention": "y_t, next states = step(x_t, states); start from zeros",
        }


@dataclass(frozen=True)
class QuantizationBlock:
    """The manifest's `quantization` block: what was asked, what it was calibrated and measured on, what failed."""

    requested: tuple[str, ...]
    calibration: Mapping[str, Any]
    holdout: Mapping[str, Any]
    failed: tuple[Mapping[str, str], ...] = ()

    @property
    def message(self) -> str:
        """One line per variant left out: which, and why."""
        return "\n".join(
            f"variant {f.get('variant', '?')} ({f.get('format', '?')}) not written: {f.get('reason', '?')}"
            for f in self.failed
        )

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> QuantizationBlock:
        raw = checks.obj(raw, "quantization", where)
        requested = checks.string_list(raw.get("requested", []), "quantization.requested", where, "variant names")
        failed = raw.get("failed", [])
        if not isinstance(failed, list):
            raise ManifestError(f"{where}: quantization.failed is {failed!r}; expected a list of objects.")
        # A record only reports what export left out: an odd one prints as '?', it changes no answer.
        calibration, holdout = raw.get("calibration", {}), raw.get("holdout", {})
        return cls(
            requested,
            calibration if isinstance(calibration, dict) else {},
            holdout if isinstance(holdout, dict) else {},
            tuple(f if isinstance(f, dict) else {} for f in failed),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": list(self.requested),
            "calibration": dict(self.calibration),
            "holdout": dict(self.holdout),
            "failed": [dict(f) for f in self.failed],
            "message": self.message,
        }


@dataclass(frozen=True)
class ModelBlock:
    """What the Keras model was: its cells (one per recurrent layer), layers and parameter count."""

    cell: str = "?"
    cells: tuple[str, ...] = ()
    bidirectional: bool = False
    trainable_params: int | None = None
    layers: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> ModelBlock:
        raw = checks.obj(raw, "model", where)
        cells = checks.string_list(raw.get("cells", []), "model.cells", where, "cell names like ['lstm']")
        params = raw.get("trainable_params")
        layers = raw.get("layers", [])
        return cls(
            str(raw.get("cell", "?")),
            cells,
            bool(raw.get("bidirectional", False)),
            params if isinstance(params, int) and not isinstance(params, bool) else None,
            tuple(layers) if isinstance(layers, list) else (),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "cells": list(self.cells),
            "bidirectional": self.bidirectional,
            "trainable_params": self.trainable_params,
            "layers": [dict(layer) for layer in self.layers],
        }


@dataclass(frozen=True, eq=False)
class Manifest:
    """A parsed manifest.json. Build one with `Manifest.parse(obj)` or `Manifest.read(bundle_dir)`."""

    name: str
    spec: Spec
    entries: tuple[ArtifactEntry, ...]
    golden: FileEntry
    source: FileEntry | None = None
    model: ModelBlock = field(default_factory=ModelBlock)
    streaming: StreamingBlock | None = None
    quantization: QuantizationBlock | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # created, producer, training, evaluation, ...
    streaming_error: str = ""  # a malformed streaming block: raised by require_streaming, never by predict

    def artifacts(
        self,
        role: str | Iterable[str] | None = None,
        variant: str | Iterable[str] | None = None,
        formats: Iterable[str] | None = None,
    ) -> list[ArtifactEntry]:
        """The artifacts matching every filter given; `formats` also sets the order (first format first).

        Each filter is a name or a collection of names; None (or an empty collection) matches all.
        """

        def allowed(value: str | Iterable[str] | None) -> set[str] | None:
            names = {value} if isinstance(value, str) else set(value or ())
            return names or None

        roles, variants = allowed(role), allowed(variant)
        found = [
            a
            for a in self.entries
            if (roles is None or a.role in roles) and (variants is None or a.variant in variants)
        ]
        if formats is None:
            return found
        order = list(formats)
        return sorted((a for a in found if a.format in order), key=lambda a: order.index(a.format))

    def pairs(self, role: str = MODEL_ROLE) -> list[tuple[str, str]]:
        """(format, variant) of the artifacts of `role`, sorted: what error messages list."""
        return sorted({(a.format, a.variant) for a in self.artifacts(role=role)})

    def require_streaming(self) -> StreamingBlock:
        """The streaming block; UnsupportedModelError saying how to get step models, or the
        ManifestError of a malformed block."""
        if self.streaming_error:
            raise ManifestError(self.streaming_error)
        if self.streaming is None:
            raise UnsupportedModelError(
                "this bundle has no step models, so it cannot stream; re-export it with "
                "'edgernn export MODEL --out DIR --streaming' (or export_bundle(..., streaming=True))."
            )
        return self.streaming

    @property
    def files(self) -> list[str]:
        """Every file the manifest lists (model.keras too when it names one), manifest.json aside."""
        return [a.file for a in self.entries] + [self.golden.file] + ([self.source.file] if self.source else [])

    @classmethod
    def read(cls, bundle: Path) -> Manifest:
        """Read and parse `bundle/manifest.json`.

        Raises:
            ManifestError: missing file, bad JSON, unknown format or schema, or bad values.
        """
        bundle = Path(bundle)
        path = bundle / MANIFEST_FILE
        if not bundle.is_dir():
            raise ManifestError(f"{bundle} is not a bundle directory (expected a folder with {MANIFEST_FILE}).")
        if path.exists() and not path.is_file():
            raise ManifestError(f"{path} is not a regular file; a bundle holds plain files only.")
        if path.is_file() and path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(
                f"{path} is {path.stat().st_size} bytes; a manifest is a few KB (limit {MAX_MANIFEST_BYTES})."
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(
                f"{bundle} has no {MANIFEST_FILE}; export the model again with 'edgernn export'."
            ) from None
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
            raise ManifestError(
                f"{path} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}); re-export the bundle."
            ) from None
        return cls.parse(raw, path)

    @classmethod
    def parse(cls, raw: Any, where: checks.Where = MANIFEST_FILE) -> Manifest:
        """Check a manifest's structure and values and build the records; ManifestError names the first problem."""
        if not isinstance(raw, dict):
            raise ManifestError(f"{where}: expected a JSON object, got {type(raw).__name__}.")
        missing = [k for k in REQUIRED_KEYS if k not in raw]
        if missing:
            raise ManifestError(f"{where}: missing keys {missing}; re-export the bundle.")
        if raw["format"] != FORMAT_NAME:
            raise ManifestError(f"{where}: format is {raw['format']!r}, expected {FORMAT_NAME!r}.")
        if type(raw["schema_version"]) is not int or raw["schema_version"] != SCHEMA_VERSION:
            raise ManifestError(
                f"{where}: schema_version {raw['schema_version']!r} is not supported by this edgernn "
                f"(it reads version {SCHEMA_VERSION}); upgrade edgernn or re-export the bundle."
            )
        spec = _spec(raw, where)
        artifacts = raw["artifacts"]
        if not isinstance(artifacts, list) or not artifacts:
            raise ManifestError(f"{where}: 'artifacts' must be a non-empty list.")
        entries = tuple(ArtifactEntry.parse(a, where) for a in artifacts)
        files = [a.file for a in entries]
        if len(set(files)) != len(files):
            raise ManifestError(f"{where}: artifact files {files} repeat a name; each artifact needs its own file.")
        golden = FileEntry.parse(raw["golden"], "golden", where)
        source = FileEntry.parse(raw["source"], "source", where) if "source" in raw else None
        model = ModelBlock.parse(raw["model"], where) if "model" in raw else ModelBlock()
        streaming, streaming_error = _streaming(raw, where)
        quant = QuantizationBlock.parse(raw["quantization"], where) if "quantization" in raw else None
        known = {*REQUIRED_KEYS, "name", "source", "model", "streaming", "quantization"}
        return cls(
            str(raw.get("name", "")),
            spec,
            entries,
            golden,
            source,
            model,
            streaming,
            quant,
            {k: v for k, v in raw.items() if k not in known},
            streaming_error,
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest.json object (what `parse` reads back to an equal Manifest)."""
        spec = self.spec
        out: dict[str, Any] = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            **{k: v for k, v in self.extra.items() if k in ("created",)},
            "model": self.model.to_json(),
            "input": {"name": "input", "timesteps": spec.timesteps, "features": spec.features, "dtype": "float32"},
            "output": {"name": "output", "outputs": spec.outputs, "sequence": spec.sequence_output, "dtype": "float32"},
            "preprocessing": {"convention": CONVENTION, "input": spec.x.to_json(), "output": spec.y.to_json()},
            "artifacts": [a.to_json() for a in self.entries],
        }
        if self.streaming:
            out["streaming"] = self.streaming.to_json()
        if self.quantization:
            out["quantization"] = self.quantization.to_json()
        out["golden"] = self.golden.to_json()
        if self.source:
            out["source"] = self.source.to_json()
        out.update({k: v for k, v in self.extra.items() if k != "created"})
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")


def _streaming(raw: Mapping[str, Any], where: checks.Where) -> tuple[StreamingBlock | None, str]:
    """The streaming block, or the reason it is malformed (kept for require_streaming: the window models
    of a bundle with a damaged streaming block still load and predict)."""
    if "streaming" not in raw:
        return None, ""
    block = checks.obj(raw["streaming"], "streaming", where)
    states = block.get("states", [])
    if not (isinstance(states, list) and all(isinstance(s, dict) for s in states)):
        raise ManifestError(f"{where}: streaming.states is {states!r}; expected a list of state objects.")
    try:
        return StreamingBlock.parse(block, where), ""
    except ManifestError as exc:
        return None, str(exc)


def _spec(raw: Mapping[str, Any], where: checks.Where) -> Spec:
    inp, out, pre = raw.get("input"), raw.get("output"), raw.get("preprocessing")
    if not isinstance(inp, dict) or not isinstance(out, dict) or not isinstance(pre, dict):
        raise ManifestError(f"{where}: 'input', 'output' and 'preprocessing' must be objects.")
    timesteps = checks.positive_int(inp.get("timesteps"), "input.timesteps", where)
    features = checks.positive_int(inp.get("features"), "input.features", where)
    outputs = checks.positive_int(out.get("outputs"), "output.outputs", where)
    for what, block in (("input", inp), ("output", out)):
        if block.get("dtype", "float32") != "float32":
            raise ManifestError(
                f"{where}: {what}.dtype is {block['dtype']!r}; this edgernn feeds and reads float32 only."
            )
    sequence = checks.boolean(out.get("sequence", False), "output.sequence", where)
    x = Affine(*checks.channels(pre.get("input"), features, "input", where))
    y = Affine(*checks.channels(pre.get("output"), outputs, "output", where))
    return Spec(timesteps, features, outputs, sequence, x, y)
