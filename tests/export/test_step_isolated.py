"""A freshly written step model is loaded and stepped in a `python -I` child before the exporter loads it
(export/verify.py with `streaming=`), like every window model: a file the interpreter cannot run safely
is refused with how the child ended, and the exporting process never opens it."""

import struct

import numpy as np
import pytest

from edgernn.export.stream_proof import sequence_reference
from edgernn.export.verify import Case, verify
from edgernn.runtime import Bundle, ExportError
from edgernn.runtime.stream import StepModel

from conftest import MODELS
from helpers import TfliteOffsets

SEED = MODELS / "seed-lstm"
FULLY_CONNECTED = 9


@pytest.fixture(scope="module")
def step_case():
    """seed-lstm's float32 step.tflite, its entry, spec and streaming block, and 12 steps with Keras's answers."""
    from edgernn.export.keras_io import load_keras

    bundle = Bundle.open(SEED)
    entry = next(a for a in bundle.manifest.entries if a.file == "step.tflite")
    x = np.random.default_rng(0).uniform(-0.2, 0.9, (2, 12, 1)).astype(np.float32)  # model units
    ref = np.asarray(sequence_reference(load_keras(SEED / "model.keras"))(x, training=False), np.float32)
    return (SEED / "step.tflite").read_bytes(), entry, bundle.manifest, Case("12 steps", x, ref)


def _prove(content, entry, manifest, case):
    def stepper(name, data):
        return StepModel.load(name, data, entry, manifest.spec, manifest.streaming).run_model_units

    return verify(content, entry, manifest.spec, [case], opener=stepper, streaming=manifest.streaming)


def test_a_step_model_passes_through_the_child_and_matches_keras(step_case):
    content, entry, manifest, case = step_case
    proven = _prove(content, entry, manifest, case)
    assert 0 <= proven.max_abs_error <= 1e-5 and proven.verified_with[0] == "litert"


def test_a_step_model_the_child_cannot_run_is_refused_by_the_child(step_case):
    """FULLY_CONNECTED's weights marked absent (once a LiteRT segfault, now refused by the file vetting):
    the refusal comes from the isolated child, before this process loads the file."""
    content, entry, manifest, case = step_case
    weights = TfliteOffsets(content, "step.tflite").op_inputs(FULLY_CONNECTED) + 4
    edited = bytearray(content)
    struct.pack_into("<i", edited, weights, -1)
    with pytest.raises(ExportError, match=r"step\.tflite in litert \(isolated child\).*marks inputs \[1\] absent"):
        _prove(bytes(edited), entry, manifest, case)
