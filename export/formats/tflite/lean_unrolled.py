"""The `dynamic` variant's `unrolled_lean` form: the step written once per timestep by hand (flatgraph.py),
no WHILE, int8 weights per channel and float32 activations (dynamic-range FULLY_CONNECTED), a free batch.

For steps under the loop's floor (int8_loop.LOOP_MIN_STEP_WEIGHTS). At 10 units a file is mostly records,
not weights (seed-lstm: 2.1 KB of float weights in a 15.3 KB float32 file), and the converter's unrolled
dynamic file quantizes the weights but keeps its records (66% of float32). This graph writes fewer:

    x (B, T, F) -> SPLIT into T steps -> per step: FULLY_CONNECTED (x_t K + b) then the cell's ops
    (loop_cells.write_body; the first step from the zero state, so without its recurrent product)
    -> Dense head(s) as FULLY_CONNECTED -> y (B, outputs)

- each weight is one tensor read by every step (flatgraph's shared constants);
- no tensor names, and no shape or shape signature on intermediate tensors (flatgraph.lean());
- no SHAPE/FILL ops to build a zero state: step 0 is written from zeros.

Measured on seed-lstm (LSTM(10), T = 4), LiteRT, one thread, against model.tflite (docs/quantization.md):
34% of the bytes (ai-edge-quantizer's unrolled dynamic: 66%), 0.85-0.91x float32's batch-1 latency
(0.92-1.09x), 0.58-0.68x its batch-1024 throughput (0.45x), the same p99 error (0.67% of the output range).
"""

from __future__ import annotations

import numpy as np

from .flatgraph import FlatModel, lean, options
from .int8_loop import (
    LOOP_MIN_STEP_WEIGHTS,
    Heads,
    chain,
    chain_refusal,
    chain_weights,
    dense,
    head_refusal,
    io_refusal,
    step_weights,
)
from .loop_cells import FloatRanges, Ops, Recurrence, write_body

LEAN_MODELS = (
    "one LSTM, GRU (reset_after=True) or SimpleRNN layer (tanh, sigmoid, return_sequences=False) "
    "then linear or relu Dense layers"
)
RECIPE = (
    "edgernn hand-built unrolled graph: int8 weights per channel, float32 activations (dynamic-range "
    "FULLY_CONNECTED), one tensor per weight for every step, no names or intermediate shapes"
)
LEAN_MAX_TIMESTEPS = 64  # the file holds T copies of the step's records; measured at T = 4
_CELLS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
_FORM = "the lean unrolled graph"


def lean_refusal(info) -> str:
    """Why the unrolled_lean form does not cover the model `info` describes ('' when it does)."""
    refusal = io_refusal(info, _FORM, LEAN_MODELS)
    if refusal:
        return refusal
    if info.timesteps > LEAN_MAX_TIMESTEPS:
        return f"{_FORM} holds one copy of the step per timestep; timesteps {info.timesteps} > {LEAN_MAX_TIMESTEPS}"
    layers, kinds = chain(info)
    refusal = chain_refusal(layers, kinds, _CELLS, _FORM, LEAN_MODELS) or head_refusal(layers)
    if refusal:
        return refusal
    weights = step_weights(layers[0])
    if weights >= LOOP_MIN_STEP_WEIGHTS:
        return (
            f"the step is large ({weights:,} recurrent weights, at least {LOOP_MIN_STEP_WEIGHTS:,}): the weights, "
            f"not the records, are the file there, and {_FORM} is measured on small steps only"
        )
    return ""


def build_dynamic_lean(model, info) -> bytes:
    """The unrolled_lean `dynamic` file of `model` (lean_refusal(info) == ''): int8 weights, float32 compute."""
    rec, heads = chain_weights(model, _CELLS)
    return _graph(rec, heads, info.timesteps).to_bytes()


def _graph(rec: Recurrence, heads: Heads, steps: int) -> FlatModel:
    q = FloatRanges()
    features = rec.kernel.shape[0]
    flat = FlatModel("edgernn lean unrolled")
    graph = flat.subgraph("main")
    x = graph.tensor([1, steps, features], np.float32, batch=True)
    xs = [graph.tensor([1, 1, features], np.float32, batch=True) for _ in range(steps)]
    graph.op("SPLIT", [graph.const(1, np.int32), x], xs, options("Split", numSplits=steps))
    states = _first_step(graph, rec, q, xs[0])
    for x_t in xs[1:]:  # (B, 1, F): FULLY_CONNECTED reads it as (B, F)
        xw = dense(graph, x_t, rec.kernel, rec.bias, q, "x", "xw")
        if rec.kind == "rnn":
            states = _rnn_step(graph, rec, q, xw, states[0])
        else:
            states = write_body(graph, rec, q, xw, states, dense)
    y = states[0]
    for n, (k, b, act) in enumerate(heads):
        y = dense(graph, y, k, b, q, f"y{n - 1}" if n else "h", f"y{n}", act=act)
    graph.graph.inputs, graph.graph.outputs = [x], [y]
    lean(graph)
    return flat


def _first_step(graph, rec: Recurrence, q, x0: int) -> list[int]:
    """Step 0 from the zero state: the recurrent product is 0 (the GRU's is its recurrent bias)."""
    u, ops = rec.units, Ops(graph, q, rec.units)
    bias = rec.bias
    if rec.kind == "gru":  # z and r read h R + b_r = b_r: folded into the input bias
        bias = bias + np.concatenate([rec.rbias[: 2 * u], np.zeros(u, np.float32)])
    xw = dense(graph, x0, rec.kernel, bias, q, "x", "xw")
    if rec.kind == "rnn":
        return [ops.unary("TANH", xw, q["h"])]
    if rec.kind == "lstm":
        zi, _, zg, zo = ops.split(xw, 4, q["z"])  # c = sig(i) tanh(g): the forget gate multiplies c = 0
        c = ops.binary("MUL", ops.unary("LOGISTIC", zi, q["sig"]), ops.unary("TANH", zg, q["tanh"]), q["c"])
        return [ops.binary("MUL", ops.unary("LOGISTIC", zo, q["sig"]), ops.unary("TANH", c, q["tanh"]), q["h"]), c]
    xz, xr, xh = ops.split(xw, 3, q["xw"])  # gru: h = (1 - z) hh = hh - z hh
    rh = ops.binary("MUL", ops.unary("LOGISTIC", xr, q["sig"]), graph.const(rec.rbias[2 * u :], np.float32), q["rh"])
    hh = ops.unary("TANH", ops.binary("ADD", xh, rh, q["hpre"]), q["tanh"])
    zh = ops.binary("MUL", ops.unary("LOGISTIC", xz, q["sig"]), hh, q["zd"])
    return [ops.binary("SUB", hh, zh, q["h"])]


def _rnn_step(graph, rec: Recurrence, q, xw: int, h: int) -> list[int]:
    """SimpleRNN: h = tanh(x_t K + b + h R)."""
    ops = Ops(graph, q, rec.units)
    hw = dense(graph, h, rec.rkernel, None, q, "h", "hw")
    return [ops.unary("TANH", ops.binary("ADD", xw, hw, q["pre"]), q["h"])]
