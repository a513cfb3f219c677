"""The ONNX step model: tf2onnx over the Keras step model, every input named as in the manifest."""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime.manifest import STEP_ROLE, ArtifactEntry

from ..base import STEP, STEP_INPUT, StepSource
from .convert import OPSET, check, convert_function, op_types


def write_step(source: StepSource, path: Path) -> ArtifactEntry:
    import tensorflow as tf

    names = [STEP_INPUT, *(s["name"] for s in source.states)]
    widths = [source.info.features, *(s["shape"][0] for s in source.states)]
    signature = [tf.TensorSpec((None, w), tf.float32, name=n) for n, w in zip(names, widths)]
    step_model = source.step_model

    def serve(*args):
        return step_model(list(args), training=False)

    proto = convert_function(tf.function(serve, input_signature=signature), signature, OPSET, "the step model")
    check(proto)
    path.write_bytes(proto.SerializeToString())
    return ArtifactEntry(file=path.name, format="onnx", role=STEP_ROLE, graph_form=STEP,
                         graph_form_reason="one time step, state as explicit inputs/outputs",
                         ops=op_types(proto)).with_(opset=OPSET)
