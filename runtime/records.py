"""The records of a manifest's artifacts and files: what a bundle's files are and how they were proven.

Built by export, parsed by runtime/manifest.py (`Manifest.parse`), which every reader goes through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks
from .errors import ManifestError
from .frozen import factory, record, replace

if TYPE_CHECKING:  # a one-output bundle never loads outputs.py (cold start)
    from .outputs import Head

FORMAT_NAME = "edgernn-bundle"
SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "bundle.sig"  # a signed bundle's one file its manifest does not list (runtime/signing.py)
TRUSTED_KEYS_ENV = "EDGERNN_TRUSTED_KEYS"  # public key files, separated by os.pathsep
MAX_MANIFEST_BYTES = 16 << 20
# Artifact format -> file suffix: the runtime's half of the format registry (export/formats/ reads it).
SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx", "numpy": ".npz", "c": ".c"}
MODEL_ROLE, STEP_ROLE = "model", "step"
ROLES = (MODEL_ROLE, STEP_ROLE)
DEFAULT_VARIANT = "float32"
MAX_FLOAT_TOLERANCE = 1e-3  # float32 artifacts are held to 1e-5; a manifest may relax that 100x, no more
MAX_RANGE_TOLERANCE = 0.5  # a quantized variant's bound: at most half the Keras output range (or 0.5)
REQUIRED_KEYS = ("format", "schema_version", "input", "output", "preprocessing", "artifacts", "golden")
ARTIFACT_KEYS = ("file", "format", "variant", "bytes", "sha256")
CONVENTION = "x_model = (x_raw - offset) * scale; y_raw = y_model / scale + offset"


@record
class Affine:
    """Per-channel ``model = (raw - offset) * scale``: the one place preprocessing is applied.

    `to_model` and `to_raw` run on every predict and step, so each step is folded once into its
    cheapest operand (see `operands`); every form computes in float32, bit-identical to the formula.
    """

    offset: np.ndarray
    scale: np.ndarray
    written: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # the values as given, for to_json

    @classmethod
    def of(cls, offset: Sequence[float], scale: Sequence[float]) -> Affine:
        """From the manifest's numbers: float32 for the math, the numbers themselves for writing back."""
        written = tuple(float(v) for v in offset), tuple(float(v) for v in scale)
        return cls(np.asarray(written[0], np.float32), np.asarray(written[1], np.float32), written)

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
        offset, scale = self.written or (self.offset.tolist(), self.scale.tolist())
        return {"offset": list(offset), "scale": list(scale)}


@record
class Spec:
    """What the model takes and returns: shapes and the preprocessing of both ends.

    `folded`: the artifacts take and return raw units (the maps are in their weights, export/fold.py);
    `x` and `y` still say what the maps are. `fold_note`: why they were not folded, when they were not.
    """

    timesteps: int | None  # None: a free sequence length (any T >= 1)
    features: int | None  # None: integer token ids (batch, T) for an Embedding, `vocabulary` of them
    outputs: int
    sequence_output: bool
    x: Affine
    y: Affine
    folded: bool = False
    fold_note: str = ""
    example_timesteps: int | None = None  # a free-T bundle's golden window length
    vocabulary: int | None = None  # token inputs: ids in [0, vocabulary) (the Embedding's input_dim)
    heads: tuple[Head, ...] = ()  # several outputs, in the Keras order; `outputs` is then their packed width
    inputs: tuple[Head, ...] = ()  # several inputs (runtime/inputs.py), Keras order; `features` is their packed width
    output_timesteps: int | None = None  # a sequence output shorter than the input (a strided Conv1D); None: same T

    @property
    def tokens(self) -> bool:
        """The input is int32 token ids shaped (batch, timesteps), not float32 (batch, timesteps, features)."""
        return self.vocabulary is not None

    input_dtype = property(lambda self: "int32" if self.vocabulary is not None else "float32")
    out_steps = property(lambda self: self.output_timesteps or self.timesteps)  # a sequence output's timesteps

    @property
    def window_tail(self) -> tuple[int, ...]:
        """One concrete window's shape after the batch axis (CLI files and values are cut into these)."""
        if self.inputs:  # several inputs: one packed row (runtime/inputs.py)
            return (self.features or 1,)
        return (self.window_steps,) if self.vocabulary is not None else (self.window_steps, self.features or 1)

    @property
    def window_width(self) -> int:
        """Numbers in one window, time-major: timesteps x features (timesteps for token ids)."""
        if self.inputs:
            return self.features or 1
        return self.window_steps * (1 if self.vocabulary is not None else self.features or 1)

    @property
    def input_tail(self) -> tuple[int | None, ...]:
        """The input's shape after the batch axis: (timesteps,) for tokens, else (timesteps, features)."""
        if self.inputs:  # several inputs travel packed: (batch, their total width)
            return (self.features,)
        return (self.timesteps,) if self.vocabulary is not None else (self.timesteps, self.features)

    @property
    def window_steps(self) -> int:
        """A concrete window length: the fixed T, or a free-T bundle's golden length (CLI windows, benches)."""
        return self.timesteps or self.example_timesteps or 1


@record  # compared by to_json(); a frozen dataclass, made cheaply (frozen.py)
class FileEntry:
    """A file of the bundle that is not an artifact (golden.npz, model.keras): name, size, sha256."""

    file: str
    bytes: int
    sha256: str
    extra: Mapping[str, Any] = factory(dict)

    @classmethod
    def parse(cls, raw: Any, what: str, where: checks.Where) -> FileEntry:
        raw = checks.obj(raw, what, where)
        return cls(*checks.file_fields(raw, what, where), {k: v for k, v in raw.items() if k not in _FILE_KEYS})

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "bytes": self.bytes, "sha256": self.sha256, **self.extra}


_FILE_KEYS = ("file", "bytes", "sha256")
# Fields of an artifact entry the code reads, in the order they are written; the rest are `extra`.
_PROOF = ("max_abs_error", "mean_abs_error", "max_rel_error", "tolerance", "verified_with")


@record  # compared by to_json(); a frozen dataclass, made cheaply (frozen.py)
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
    ops: Mapping[str, int] = factory(dict)
    reset_variables: bool = False  # TFLite's fused LSTM keeps h/c in variable tensors between invokes
    checked_on: str = ""
    output_range: float | None = None
    max_abs_error: float | None = None
    mean_abs_error: float | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    verified_with: tuple[str, ...] = ()
    extra: Mapping[str, Any] = factory(dict)  # opset, weights, quantization, forms_refused, ...

    @property
    def key(self) -> tuple[str, str, str]:
        return self.format, self.variant, self.role

    def with_(self, **changes: Any) -> ArtifactEntry:
        """A copy with `changes`; names that are not fields go into `extra`."""
        names = set(self.FIELDS)
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
        name, size, digest = checks.file_fields(raw, what, where)  # no FileEntry made to be dropped
        fmt = raw["format"]
        if not isinstance(fmt, str) or fmt not in SUFFIXES:
            raise ManifestError(f"{where}: {what} has format {fmt!r}; expected one of {tuple(SUFFIXES)}.")
        if not name.endswith(SUFFIXES[fmt]):
            raise ManifestError(
                f"{where}: {what} has format {fmt!r} but not the '{SUFFIXES[fmt]}' suffix; "
                "the manifest and the file disagree."
            )
        variant = checks.name(raw["variant"], f"{what} variant", where)
        role = checks.name(raw.get("role", MODEL_ROLE), f"{what} role", where)
        tol = raw.get("tolerance")
        if "tolerance" in raw:  # validate holds each artifact to it: a huge one would pass anything
            checks.finite(tol, f"{what} has tolerance", where, minimum=0)
            span = raw.get("output_range")
            span = float(span) if isinstance(span, (int, float)) and not isinstance(span, bool) else None
            limit = MAX_FLOAT_TOLERANCE if variant == DEFAULT_VARIANT else MAX_RANGE_TOLERANCE * (span or 1.0)
            if tol > limit:
                raise ManifestError(
                    f"{where}: {what} has tolerance {tol!r}; at most {limit:g} makes sense for variant {variant!r} "
                    "(a bound that passes anything proves nothing). Re-export the bundle."
                )
        batch = raw.get("batch", "dynamic")
        known = _ARTIFACT_FIELDS
        return cls(
            file=name,
            format=fmt,
            variant=variant,
            role=role,
            bytes=size,
            sha256=digest,
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


_ARTIFACT_FIELDS = frozenset(ArtifactEntry.FIELDS) - {"extra"}  # the keys that are not `extra`


def _mapping(value: Any) -> dict[str, Any]:
    """An informational object (ops counts): kept when it is one, else empty; no answer depends on it."""
    return dict(value) if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
