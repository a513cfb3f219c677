"""The TFLite step model: one time step of the trained cells, the state as explicit inputs and outputs."""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime.manifest import STEP_ROLE, ArtifactEntry

from ..base import STEP, StepSource
from .convert import convert, op_counts


def write_step(source: StepSource, path: Path) -> ArtifactEntry:
    content = convert(source.step_model)
    path.write_bytes(content)
    return ArtifactEntry(file=path.name, format="tflite", role=STEP_ROLE, graph_form=STEP,
                         graph_form_reason="one time step, state as explicit inputs/outputs", ops=op_counts(content))
