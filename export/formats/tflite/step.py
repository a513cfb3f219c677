"""The TFLite step model: one time step of the trained cells, the state as explicit inputs and outputs."""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime.manifest import ArtifactEntry

from ..base import StepSource, step_entry
from .convert import convert, op_counts


def write_step(source: StepSource, path: Path) -> ArtifactEntry:
    content = convert(source.step_model)
    path.write_bytes(content)
    return step_entry(path, "tflite", op_counts(content))
