"""The ONNX step model: tf2onnx over the Keras step model, every input named as in the manifest."""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime.manifest import ArtifactEntry

from ..base import STEP_INPUT, StepSource, step_entry
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
    return step_entry(path, "onnx", op_types(proto)).with_(opset=OPSET)
