"""What a format is, and the one loop that tries its graph forms and proves the result.

A `Format` record is read by every place that handles formats: export_bundle writes each format's
float32 window model with `forms` and `write`, the quantizer walks `variants`, streaming calls
`step_writer`; the file suffix and the backends that prove a file come from the runtime's own
tables (`runtime.manifest.SUFFIXES`, `runtime.backends.REGISTRY`), so the two halves cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edgernn.runtime import backends
from edgernn.runtime.bundle import sha256_bytes
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import STEP_ROLE, SUFFIXES, ArtifactEntry, FileEntry, Spec

if TYPE_CHECKING:
    import numpy as np

    from ..model_info import ModelInfo

# Graph forms (the manifest's `graph_form`): how the recurrence is laid out in a file.
UNROLLED = "unrolled"  # one copy of the step per timestep, free batch
WHILE_BATCH1 = "while_batch1"  # a builtin WHILE loop, batch fixed at 1
WHILE = "while"  # a builtin WHILE loop, free batch (the int8 LSTM, built by hand: tflite/int8_loop.py)
UNROLLED_LEAN = "unrolled_lean"  # unrolled by hand with the fewest records, free batch (tflite/lean_unrolled.py)
FUSED_BATCH1 = "fused_batch1"  # TFLite's fused LSTM op, batch fixed at 1
UNROLLED_BATCH1 = "unrolled_batch1"  # the unrolled graph with a static batch of 1 (for TFLM)
FUSED = "fused"  # ONNX's LSTM op (tf2onnx), or its Loop for other cells
NATIVE = "native"  # ONNX's RNN/GRU/LSTM op per layer, written from the weights (onnx/native.py)
REFERENCE = "reference"  # the numpy equations
STEP = "step"  # one time step, the state as explicit inputs and outputs
STEP_INPUT, STEP_OUTPUT = "x_t", "y_t"  # the step models' sample and prediction tensors
UNROLL_MAX_TIMESTEPS = 256  # past this an unrolled graph bloats, in TFLite and ONNX alike
FLOAT32 = "float32"
INT8_FLOAT_TAIL = "int8-float-tail"  # int8, but each recurrent layer's last step and the head in float32
QUANTIZED = ("dynamic", "float16", "int8", "int16x8", INT8_FLOAT_TAIL)


@dataclass(frozen=True)
class GraphForm:
    """A graph form to try, and why it is tried (written to the manifest when it passes)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Target:
    """What a source-code format (C) writes into its files beyond the weights: the bundle's name (its
    symbol prefix), shapes and preprocessing (raw units in and out), and the golden case (its test program)."""

    name: str
    spec: Spec
    golden_inputs: np.ndarray  # model units
    golden_outputs: np.ndarray  # Keras's answers, model units


@dataclass(frozen=True)
class VariantJob:
    """What a variant writer gets: the model, where to write, the windows, and how to measure."""

    model: Any
    folder: Path
    info: ModelInfo
    variant: str
    float_entry: ArtifactEntry  # the float32 window model of the same format
    calibration: np.ndarray | None  # model units; None when the caller gave no windows
    measure: Callable[[bytes, ArtifactEntry], ArtifactEntry]  # held-out proof; ExportError beyond tolerance
    target: Target | None = None  # for formats with needs_target


@dataclass(frozen=True)
class StepSource:
    """What a step writer gets: the Keras step model (x_t, *states) -> y_t, next states, and its origin."""

    step_model: Any
    states: Sequence[Mapping[str, Any]]
    model: Any
    info: ModelInfo


@dataclass(frozen=True)
class Format:
    """One artifact format: its graph forms, writer, quantized variants and step writer."""

    name: str
    forms: Callable[[ModelInfo], list[GraphForm]]  # best first
    write: Callable[[Any, Path, ModelInfo, GraphForm], ArtifactEntry]  # float32 window model
    variants: Mapping[str, Callable[[VariantJob], ArtifactEntry]] = field(default_factory=dict)
    step_writer: Callable[[StepSource, Path], ArtifactEntry] | None = None
    needs_target: bool = False  # write() takes a Target as a fifth argument
    streams_in_model: bool = False  # the window file carries the step API too: streaming writes no step file
    unfolded: bool = False  # the file applies the unit maps itself (C): written from the unfolded model

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.name]

    @property
    def backends(self) -> tuple[str, ...]:
        """The runtime backends that run this format, and so prove its files."""
        return backends.backends_for(self.name)

    def file(self, stem: str) -> str:
        return f"{stem}{self.suffix}"


def step_entry(path: Path, fmt: str, ops: Mapping[str, int], reason: str = "") -> ArtifactEntry:
    """The entry of a step model a writer just wrote (file fields and proof are added by the caller)."""
    reason = reason or "one time step, state as explicit inputs/outputs"
    return ArtifactEntry(
        file=path.name, format=fmt, role=STEP_ROLE, graph_form=STEP, graph_form_reason=reason, ops=dict(ops)
    )


def file_fields(data: bytes) -> dict[str, Any]:
    """The manifest's size and sha256 of a file's bytes (the bytes that are then proven)."""
    return {"bytes": len(data), "sha256": sha256_bytes(data)}


def file_entry(path: Path, **extra: Any) -> FileEntry:
    """A FileEntry (golden.npz, model.keras) for a written file."""
    return FileEntry(Path(path).name, **file_fields(Path(path).read_bytes()), extra=extra)


def try_forms(
    path: Path,
    forms: Sequence[GraphForm],
    write: Callable[[GraphForm], ArtifactEntry],
    prove: Callable[[bytes, ArtifactEntry], ArtifactEntry],
) -> ArtifactEntry:
    """Write `path` in each form in turn and keep the first that is proven; the others' reasons are kept.

    `write(form)` writes the file and returns its entry; `prove(content, entry)` runs it and returns
    the entry with its measured error, or raises ExportError.

    Raises:
        ExportError: no form was written and proven (every form's reason in the message).
    """
    refused: list[str] = []
    for form in forms:
        try:
            entry = write(form)
            content = path.read_bytes()  # hashed and proven: the same bytes
            entry = prove(content, entry.with_(**file_fields(content)))
            return entry.with_(forms_refused=refused) if refused else entry
        except EdgeRNNError as exc:
            refused.append(f"{form.name}: {exc}")
            path.unlink(missing_ok=True)
    raise ExportError(f"{path.name}: no graph form passed. " + " | ".join(refused))
