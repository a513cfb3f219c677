"""The `native` ONNX graph form: window and step models built from ONNX's own RNN/GRU/LSTM ops.

tf2onnx turns SimpleRNN and GRU into a Loop (or, unrolled, one MatMul chain per step); ONNX has a
fused op for each cell, which onnxruntime runs as one kernel. The graphs are written here from
the weights (native_ops.py); what cannot be written exactly raises UnsupportedLayerError, and the
caller falls back to tf2onnx's forms with the reason in the manifest's `forms_refused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...model_info import ModelInfo, UnsupportedLayerError
from ..base import STEP_INPUT, STEP_OUTPUT, StepSource
from ..numpy.convert import V1_KINDS, chain_only, describe, started_chain
from .names import BATCH_DIM, INPUT_NAME, OUTPUT_NAME
from .native_ops import Graph, dense, merge, recurrent_op, reverse_time, squeeze

REASON = "ONNX's own RNN/GRU/LSTM op per recurrent layer, written from the Keras weights: one kernel per layer"
STEP_REASON = "one time step with ONNX's RNN/GRU/LSTM op (sequence length 1, initial_h/initial_c as inputs)"


def _bidirectional(g: Graph, x: str, rec: Mapping[str, Any], arrays, width: int) -> tuple[str, int, bool]:
    fw, bw = rec["forward"], rec["backward"]
    if fw["go_backwards"] or not bw["go_backwards"] or fw["return_sequences"] != bw["return_sequences"]:
        raise UnsupportedLayerError("a Bidirectional whose halves do not read forward and backward alike")
    outs = recurrent_op(g, x, [fw, bw], arrays, width)
    mode, units, seq = rec["merge_mode"], int(fw["units"]), bool(fw["return_sequences"])
    y = merge(g, outs[0], 1, mode, 3) if seq else merge(g, outs[1], 0, mode, 2)
    return y, units * 2 if mode == "concat" else units, seq


def window_graph(model, info: ModelInfo, opset: int):
    """The window model (batch, T, F) -> (batch, outputs) or (batch, T, outputs) as an onnx ModelProto."""
    from onnx import TensorProto, helper

    if info.heads:
        raise UnsupportedLayerError("the native ONNX form writes one output; several go to tf2onnx's forms.")
    layers, arrays = describe(model)
    names, first, starts = [INPUT_NAME], 0, [[] for _ in layers]  # several inputs: initial_h/initial_c from them
    if info.inputs:
        layers, first, starts = started_chain(layers, "the native ONNX form")
        names = [p.name for p in info.inputs]
    chain_only(layers, V1_KINDS, "the native ONNX form")
    g = Graph()
    width = info.inputs[first].shape[-1] if info.inputs else info.features
    x, seq = g.one("Transpose", [names[first]], perm=[1, 0, 2]), True  # time-major
    for rec, start in zip(layers, starts):
        kind = rec["kind"]
        if kind == "dense":
            x, width = dense(g, x, rec, arrays, vector=not seq), int(rec["units"])
        elif kind == "bidirectional":
            x, width, seq = _bidirectional(g, x, rec, arrays, width)
        elif kind != "dropout":
            initial = [g.one("Unsqueeze", [names[k], g.const("axes", np.array([0]), np.int64)]) for k in start]
            outs = recurrent_op(g, reverse_time(g, x) if rec["go_backwards"] else x, [rec], arrays, width, initial)
            seq = bool(rec["return_sequences"])
            x, width = squeeze(g, outs[0], 1) if seq else squeeze(g, outs[1], 0), int(rec["units"])
    if seq:
        x = g.one("Transpose", [x], perm=[1, 0, 2])
    g.rename(x, OUTPUT_NAME)
    t = info.timesteps or "time"  # a free sequence length: a named dynamic axis
    out_shape = [BATCH_DIM, t, info.outputs] if seq else [BATCH_DIM, info.outputs]
    graph = helper.make_graph(
        g.nodes,
        "edgernn_native",
        _inputs(info, t),
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, out_shape)],
        g.inits,
    )
    return _model(graph, opset)


def _inputs(info: ModelInfo, t: Any) -> list:
    """The graph inputs: `input` (batch, T, F), or each of several inputs by its Keras name."""
    from onnx import TensorProto, helper

    if info.inputs:
        return [helper.make_tensor_value_info(p.name, TensorProto.FLOAT, [BATCH_DIM, *p.shape]) for p in info.inputs]
    return [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [BATCH_DIM, t, info.features])]


def _model(graph, opset: int):
    from onnx import helper

    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgernn (native)")
    proto.ir_version = 8  # what onnxruntime builds of the last two years read
    return proto


def step_graph(source: StepSource, opset: int):
    """The step model (x_t, *states) -> (y_t, *next states), names as in the manifest's streaming block."""
    from onnx import TensorProto, helper

    layers, arrays = describe(source.model)
    if len(source.model.inputs) > 1:  # initial_state inputs: a step takes the states as its own inputs
        layers = started_chain(layers, "the native ONNX step form")[0]
    chain_only(layers, V1_KINDS, "the native ONNX step form")
    g = Graph()
    x, width = g.one("Unsqueeze", [STEP_INPUT, g.const("axes", np.array([0]), np.int64)]), source.info.features
    states = list(source.states)
    outputs: list[tuple[str, str]] = []  # (graph tensor, output name)
    for rec in layers:
        kind = rec["kind"]
        if kind == "dense":
            x, width = dense(g, x, rec, arrays, vector=False), int(rec["units"])
        elif kind == "bidirectional":
            raise UnsupportedLayerError("a Bidirectional layer cannot stream")
        elif kind != "dropout":
            mine, states = states[: 2 if kind == "lstm" else 1], states[2 if kind == "lstm" else 1 :]
            axes = g.const("axes", np.array([0]), np.int64)
            initial = [g.one("Unsqueeze", [s["name"], axes]) for s in mine]
            outs = recurrent_op(g, x, [rec], arrays, width, initial)
            outputs += [(squeeze(g, t, 0), s["output"]) for t, s in zip(outs[1:], mine)]
            x, width = squeeze(g, outs[0], 1), int(rec["units"])
    for tensor, name in [(squeeze(g, x, 0), STEP_OUTPUT), *outputs]:
        g.rename(tensor, name)

    def value(name: str, size: int):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", size])

    graph = helper.make_graph(
        g.nodes,
        "edgernn_native_step",
        [value(STEP_INPUT, source.info.features), *(value(s["name"], s["shape"][0]) for s in source.states)],
        [value(STEP_OUTPUT, source.info.outputs), *(value(s["output"], s["shape"][0]) for s in source.states)],
        g.inits,
    )
    return _model(graph, opset)
