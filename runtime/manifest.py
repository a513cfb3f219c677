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

import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from . import checks
from .blocks import ModelBlock, QuantizationBlock, Refusal, StateSpec, StreamingBlock
from .errors import ManifestError, UnsupportedModelError
from .files import BundleDir, sha256_bytes
from .frozen import factory, record, replace
from .manifest_json import input_json, json_default, output_json, parse_spec, preprocessing_json, read_json
from .records import (
    ARTIFACT_KEYS,
    CONVENTION,
    DEFAULT_VARIANT,
    FORMAT_NAME,
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    MODEL_ROLE,
    REQUIRED_KEYS,
    ROLES,
    SCHEMA_VERSION,
    STEP_ROLE,
    SUFFIXES,
    Affine,
    ArtifactEntry,
    FileEntry,
    Spec,
)

__all__ = [
    "ARTIFACT_KEYS",
    "CONVENTION",
    "DEFAULT_VARIANT",
    "FORMAT_NAME",
    "MANIFEST_FILE",
    "MAX_MANIFEST_BYTES",
    "MODEL_ROLE",
    "REQUIRED_KEYS",
    "ROLES",
    "SCHEMA_VERSION",
    "STEP_ROLE",
    "SUFFIXES",
    "Affine",
    "ArtifactEntry",
    "FileEntry",
    "Manifest",
    "ModelBlock",
    "QuantizationBlock",
    "Refusal",
    "Spec",
    "StateSpec",
    "StreamingBlock",
]


@record
class Manifest:
    """A parsed manifest.json. Build one with `Manifest.parse(obj)` or `Manifest.read(bundle_dir)`."""

    name: str
    spec: Spec
    entries: tuple[ArtifactEntry, ...]
    golden: FileEntry
    source: FileEntry | None = None
    model: ModelBlock = factory(ModelBlock)
    streaming: StreamingBlock | None = None
    quantization: QuantizationBlock | None = None
    refusals: tuple[Refusal, ...] = ()  # formats left out for this model, and why (absent in older bundles)
    extra: Mapping[str, Any] = factory(dict)  # created, producer, training, evaluation, ...
    streaming_error: str = ""  # a malformed streaming block: raised by require_streaming, never by predict
    raw: Mapping[str, Any] = factory(dict, repr=False)  # the JSON parsed (info --json prints it)
    text: bytes = factory(bytes, repr=False)  # the manifest.json bytes read (Manifest.read)

    @cached_property
    def text_sha256(self) -> str:
        """sha256 of the manifest.json bytes read: what a signature covers ('' for a manifest not read
        from a file). Hashed on first use: an unsigned load never needs it."""
        return sha256_bytes(self.text) if self.text else ""

    def artifacts(
        self,
        role: str | Iterable[str] | None = None,
        variant: str | Iterable[str] | None = None,
        formats: Iterable[str] | None = None,
    ) -> list[ArtifactEntry]:
        """The artifacts matching every filter given; `formats` also sets the order (first format first).

        Each filter is a name or a collection of names; None matches all (so does an empty role or variant
        collection; an empty `formats` matches none).
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
                "'edgernn export BUNDLE --out NEW --streaming' (it keeps the bundle's preprocessing), or "
                "export_bundle(..., streaming=True)."
            )
        return self.streaming

    @property
    def files(self) -> list[str]:
        """Every file the manifest lists (model.keras too when it names one; an artifact's companions such as
        model.h), manifest.json aside."""
        companions = [
            c["file"]
            for a in self.entries
            for c in a.extra.get("companions") or ()
            if isinstance(c, dict) and "file" in c
        ]
        return (
            [a.file for a in self.entries]
            + companions
            + [self.golden.file]
            + ([self.source.file] if self.source else [])
        )

    @classmethod
    def read(cls, bundle: str | os.PathLike[str], folder: BundleDir | None = None) -> Manifest:
        """Read and parse `bundle/manifest.json` (through `folder`, the bundle opened by handle, when given).

        Raises:
            ManifestError: missing file, a symlink, bad JSON (duplicate keys too), unknown format or
                schema, or bad values.
        """
        own = folder is None
        folder = BundleDir(bundle) if folder is None else folder
        path = os.path.join(folder.path, MANIFEST_FILE)
        try:
            data = folder.read(MANIFEST_FILE, MAX_MANIFEST_BYTES)
        except FileNotFoundError:
            raise ManifestError(
                f"{folder.path} has no {MANIFEST_FILE}; export the model again with 'edgernn export'."
            ) from None
        finally:
            if own:
                folder.close()
        return replace(cls.parse(read_json(data, path), path), text=data)

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
        spec = parse_spec(raw, where)
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
        streaming, streaming_error = (
            StreamingBlock.parse_deferred(raw["streaming"], where) if "streaming" in raw else (None, "")
        )
        quant = QuantizationBlock.parse(raw["quantization"], where) if "quantization" in raw else None
        refusals = Refusal.parse_list(raw["refusals"], where) if "refusals" in raw else ()
        known = {*REQUIRED_KEYS, "name", "source", "model", "streaming", "quantization", "refusals"}
        return cls(
            str(raw.get("name", "")),
            spec,
            entries,
            golden,
            source,
            model,
            streaming,
            quant,
            refusals,
            {k: v for k, v in raw.items() if k not in known},
            streaming_error,
            raw,
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest.json object; `Manifest.parse(m.to_json()).to_json() == m.to_json()`."""
        spec = self.spec
        out: dict[str, Any] = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            **{k: v for k, v in self.extra.items() if k in ("created",)},
            "model": self.model.to_json(),
            "input": input_json(spec),
            "output": output_json(spec),
            "preprocessing": preprocessing_json(spec),
            "artifacts": [a.to_json() for a in self.entries],
        }
        if self.streaming:
            out["streaming"] = self.streaming.to_json()
        if self.quantization:
            out["quantization"] = self.quantization.to_json()
        if self.refusals:
            out["refusals"] = [r.to_json() for r in self.refusals]
        out["golden"] = self.golden.to_json()
        if self.source:
            out["source"] = self.source.to_json()
        out.update({k: v for k, v in self.extra.items() if k != "created"})
        return out

    def dumps(self) -> str:
        import json  # only export writes manifests: reading never imports json (manifest_json.py)

        return json.dumps(self.to_json(), indent=2, default=json_default) + "\n"
