"""Keras -> ONNX: ONNX's own recurrent ops (native.py), else tf2onnx.convert.from_function.

Forms:
- `native`: one ONNX RNN/GRU/LSTM op per recurrent layer, written from the weights (native.py);
  tried first for every model: one kernel per layer, no Loop, no unrolled chain. A layer or
  activation without an exact ONNX form sends the model to tf2onnx's forms, the reason kept.
- `fused`: the model as is; tf2onnx rewrites an LSTM's loop into the fused ONNX LSTM op, and
  SimpleRNN/GRU into a Loop.
- `unrolled`: a clone with unroll=True: plain MatMul/Add/activation ops, no loop.
Measured with onnxruntime at batch 1 (README "Graph forms"): for LSTM the fused op beats the unrolled
graph; for SimpleRNN and GRU the unrolled graph beats the Loop by about 2-4x. So the preferred form
follows the cells, and the other form is the fallback when parity fails.
"""

from __future__ import annotations

import collections
from pathlib import Path

from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import ArtifactEntry
from edgernn.runtime.outputs import file_output

from ...model_info import ModelInfo, clone_with
from ..base import FUSED, NATIVE, UNROLL_MAX_TIMESTEPS, UNROLLED, GraphForm
from . import native
from .names import BATCH_DIM, INPUT_NAME, OUTPUT_NAME

OPSET = 17


def forms(info: ModelInfo) -> list[GraphForm]:
    """Graph forms to try, best first, each with the reason it is chosen when it passes."""
    return [GraphForm(NATIVE, native.REASON), *tf2onnx_forms(info)]


def tf2onnx_forms(info: ModelInfo) -> list[GraphForm]:
    """tf2onnx's forms, best first: the fallback when the native graph cannot be written or proven."""
    if info.timesteps is None:
        return [GraphForm(FUSED, "a free sequence length: tf2onnx's LSTM op or Loop runs any T (no unrolling)")]
    if info.timesteps > UNROLL_MAX_TIMESTEPS:
        return [
            GraphForm(FUSED, f"timesteps {info.timesteps} > {UNROLL_MAX_TIMESTEPS}: unrolling would bloat the graph")
        ]
    if all(c == "lstm" for c in info.cells):
        return [
            GraphForm(FUSED, "LSTM: tf2onnx's fused ONNX LSTM op runs faster in onnxruntime than an unrolled graph"),
            GraphForm(UNROLLED, "fallback: the fused form did not pass parity"),
        ]
    return [
        GraphForm(UNROLLED, "SimpleRNN/GRU: an unrolled graph runs 2-4x faster in onnxruntime than tf2onnx's Loop"),
        GraphForm(FUSED, "fallback: the unrolled form did not pass parity"),
    ]


def convert_function(fn, signature, opset: int = OPSET, what: str = "the model"):
    """tf2onnx.convert.from_function, quiet, with the batch dimension named; returns an onnx ModelProto."""
    import logging

    import tf2onnx

    tf2onnx.logging.set_level(logging.ERROR)  # its INFO lines drown the CLI's own output
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
    except Exception as exc:
        raise ExportError(f"ONNX conversion of {what} with tf2onnx failed: {type(exc).__name__}: {exc}") from exc
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    proto.producer_name = "edgernn (tf2onnx)"
    return proto


def to_onnx(keras_model, info: ModelInfo, opset: int = OPSET):
    """Convert a window model with input `input` and output `output`; returns an onnx ModelProto."""
    import tensorflow as tf

    if info.inputs:  # several inputs: graph inputs named as the Keras inputs (runtime/inputs.py)
        signature = tuple(tf.TensorSpec((None, *p.shape), tf.float32, name=p.name) for p in info.inputs)
    elif info.vocabulary:  # token ids (batch, T)
        signature = (tf.TensorSpec((None, info.timesteps), tf.int32, name=INPUT_NAME),)
    else:
        signature = (tf.TensorSpec((None, info.timesteps, info.features), tf.float32, name=INPUT_NAME),)

    @tf.function(input_signature=signature)
    def serve(*inputs):  # the TensorSpec names become the ONNX input names
        y = keras_model(list(inputs) if info.inputs else inputs[0], training=False)
        if info.heads:  # several outputs: output_0, output_1, ... in the manifest's head order
            return {file_output(i): t for i, t in enumerate(y)}
        return {OUTPUT_NAME: y}

    return convert_function(serve, signature, opset)


def op_types(proto) -> dict[str, int]:
    """How many nodes of each op type the graph's top level holds."""
    return dict(collections.Counter(node.op_type for node in proto.graph.node))


def check(proto) -> None:
    """onnx.checker with full_check (shape inference included); ExportError if it complains."""
    import onnx

    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"the ONNX file fails onnx.checker (full_check): {exc}") from exc


def write(model, path: Path, info: ModelInfo, form: GraphForm, opset: int = OPSET) -> ArtifactEntry:
    """Write `model` as a float32 .onnx file in the given graph form ('native', 'fused' or 'unrolled')."""
    if form.name not in (NATIVE, FUSED, UNROLLED):
        raise ExportError(f"unknown ONNX graph form {form.name!r}; expected {NATIVE!r}, {FUSED!r} or {UNROLLED!r}.")
    if form.name == NATIVE:  # UnsupportedLayerError when a layer has no exact native form
        proto = native.window_graph(model, info, opset)
    else:
        proto = to_onnx(clone_with(model, unroll=True) if form.name == UNROLLED else model, info, opset)
    check(proto)
    Path(path).write_bytes(proto.SerializeToString())
    return ArtifactEntry(
        file=Path(path).name, format="onnx", graph_form=form.name, graph_form_reason=form.reason, ops=op_types(proto)
    ).with_(opset=opset)
