"""The numpy step model: the same layer list and weights as model.npz, which the backend steps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgernn.runtime.manifest import STEP_ROLE, ArtifactEntry

from ...feeds import input_ports
from ..base import STEP, GraphForm, StepSource
from .convert import write


def write_step(source: StepSource, path: Path) -> ArtifactEntry:
    form = GraphForm(STEP, "one time step, state as explicit inputs/outputs (the layers of model.npz, stepped)")
    info = dataclasses.replace(source.info, inputs=input_ports(source.model))  # initial_state inputs: in the graph
    return write(source.model, path, info, form).with_(role=STEP_ROLE)
