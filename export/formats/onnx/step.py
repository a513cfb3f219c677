"""The ONNX step model: ONNX's own recurrent ops at sequence length 1 (native.py), else tf2onnx over
the Keras step model; every input named as in the manifest."""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime.errors import EdgeRNNError
from edgernn.runtime.manifest import ArtifactEntry

from ..base import NATIVE, STEP_INPUT, StepSource, step_entry
from . import native
from .convert import OPSET, check, convert_function, op_types


def write_step(source: StepSource, path: Path) -> ArtifactEntry:
    """The native step model when every layer has an exact native form, else tf2onnx's (reason kept)."""
    try:
        proto = native.step_graph(source, OPSET)
        check(proto)
    except EdgeRNNError as exc:
        return tf2onnx_step(source, path).with_(native_refused=str(exc))
    path.write_bytes(proto.SerializeToString())
    entry = step_entry(path, "onnx", op_types(proto), native.STEP_REASON)
    return entry.with_(opset=OPSET, step_form=NATIVE)


def tf2onnx_step(source: StepSource, path: Path) -> ArtifactEntry:
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
