"""The `int8` and `dynamic` variants' `while` form: a hand-built TFLite file whose recurrent layer is one
WHILE loop over the time steps, with a free batch dimension. int8: every tensor int8 (below); dynamic:
the same graph with int8 weights and float32 activations (dynamic-range FULLY_CONNECTED, no calibration).

Why by hand: the TF 2.21 converter and ai-edge-quantizer crash calibrating a WHILE graph ("Tensor data
is null"), and the unrolled int8 graph they can make holds 24 copies of the step's op and tensor records
(LSTM(64) on (24, 3): 79 KB, 58% of float32, for 17.6 KB of weights). One loop body holds them once.

    main:  x int8 (B, T, F) -> FULLY_CONNECTED (every step's input projection at once, bias folded in)
           -> WHILE(t, xw, h[, c]) -> Dense head(s) as FULLY_CONNECTED -> y int8
    cond:  t < T
    body:  GATHER xw at t -> the cell's ops (loop_cells.py) -> t + 1

WHILE copies the body's outputs into its inputs byte for byte, so each loop tensor leaves the body
with the scale and zero point it entered with: one range per loop tensor, the min/max over every step
of every calibration window. Weights are int8 symmetric per output channel, biases int32 at input
scale x weight scale, LOGISTIC out 1/256 zp -128 and TANH 1/128 zp 0 (TFLite's int8 rules). Sizes,
errors and speed against float32 and the unrolled forms: docs/quantization.md and
benchmarks/RESULTS-quantize.md.
"""

from __future__ import annotations

import numpy as np

from edgernn.runtime.errors import ExportError

from ...fold import PASS_THROUGH as _PASS  # layers that compute nothing at inference
from ...model_info import UnsupportedLayerError
from .flatgraph import FlatModel, options
from .loop_cells import GATES, FloatRanges, Ranges, Recurrence, calibrate_steps, recurrence, write_body

WHILE_FORM_MODELS = (
    "one LSTM or GRU (reset_after=True) layer (tanh, sigmoid, return_sequences=False) then linear or relu Dense layers"
)
RECIPE = "edgernn hand-built int8 loop: min/max over every step of the calibration windows, one range per loop tensor"
DYNAMIC_RECIPE = (
    "edgernn hand-built loop: int8 weights per channel, float32 activations (dynamic-range FULLY_CONNECTED)"
)
_CELLS = {"LSTM": "lstm", "GRU": "gru"}
# The loop pays a fixed cost per step (WHILE moves its loop tensors and invokes the body): measured worth
# it from GRU(64) (12,288 recurrent weights: int8 1.0x float32's batch-1 latency, as unrolled) and LSTM(64)
# (16,384: 0.88x against unrolled 0.98x); not at SimpleRNN(64) (4,096) or seed-lstm's LSTM(10) (400).
LOOP_MIN_STEP_WEIGHTS = 8192  # SimpleRNN: the unrolled int8 is faster (loop_cells.py)


def io_refusal(info, form: str, covers: str) -> str:
    """Why the hand-built graph `form` ("the loop", ...), covering `covers`, does not take the model `info`
    describes ('' when its input and output fit): one float input of fixed timesteps, one output, no masking."""
    if len(info.heads) > 1 or len(info.inputs) > 1 or info.features is None or info.mask_value is not None:
        return f"{form} covers {covers}, one float input and one output, no masking"
    if info.timesteps is None:
        return f"{form} is written for a fixed number of timesteps; this model takes any T"
    return ""


def chain(info) -> tuple[list[dict], list[str]]:
    """The layers that compute (a pass-through layer computes nothing), and their classes."""
    layers = [layer for layer in info.layers if layer["class"] not in _PASS]
    return layers, [layer["class"] for layer in layers]  # a wrapper (Bidirectional, ...) is its own kind


def chain_refusal(layers: list[dict], kinds: list[str], cells, form: str, covers: str) -> str:
    """Why `layers` is not one of `cells` (Keras class names) then Dense layers, keeping the last h."""
    if len(kinds) < 2 or kinds[0] not in cells or any(k != "Dense" for k in kinds[1:]):
        return f"{form} covers {covers}; this model is {' -> '.join(kinds)}"
    cell, kind = layers[0], kinds[0]
    if (cell.get("activation"), cell.get("recurrent_activation", "sigmoid")) != ("tanh", "sigmoid"):
        return f"{kind} {cell['name']!r} has activations other than tanh/sigmoid (TFLite's int8 kernels)"
    if cell.get("return_sequences") or cell.get("go_backwards"):
        return f"{kind} {cell['name']!r} returns sequences or runs backwards; {form} keeps the last h"
    return ""


def head_refusal(layers: list[dict]) -> str:
    """Why the cell or the Dense layers after it are not what the graph writes ('' when they are)."""
    cell = layers[0]
    if cell["class"] == "GRU" and not cell.get("reset_after", True):
        return f"GRU {cell['name']!r} has reset_after=False (its candidate needs a second recurrent product)"
    for dense in layers[1:]:
        if dense.get("activation") not in ("linear", "relu"):
            return f"Dense {dense['name']!r} has activation {dense.get('activation')!r} (linear or relu only)"
    return ""


def step_weights(cell: dict) -> int:
    """Recurrent weights in one step of the cell layer `cell` (a layer record of ModelInfo)."""
    return {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cell["class"]] * int(cell.get("units", 0)) ** 2


def loop_refusal(info) -> str:
    """Why the loop form does not cover the model `info` describes ('' when it does)."""
    refusal = io_refusal(info, "the loop", WHILE_FORM_MODELS)
    if refusal:
        return refusal
    layers, kinds = chain(info)
    if kinds[:1] == ["SimpleRNN"]:
        return (
            "SimpleRNN keeps the unrolled form: its step is one matmul, and the WHILE's per-step cost outweighs "
            "it (SimpleRNN(64) on (24, 3): loop 2.19x float32's batch-1 latency, unrolled int8 1.63x)"
        )
    refusal = chain_refusal(layers, kinds, _CELLS, "the loop", WHILE_FORM_MODELS)
    if refusal:
        return refusal
    weights = step_weights(layers[0])
    if weights < LOOP_MIN_STEP_WEIGHTS:
        return (
            f"the step is small ({weights:,} recurrent weights, under {LOOP_MIN_STEP_WEIGHTS:,}): the WHILE's "
            "per-step cost outweighs it at batch 1 (seed-lstm's LSTM(10): loop 2.0x float32's batch-1 latency "
            "in int8 and 2.2x in dynamic, its unrolled dynamic 1.07x); it keeps the other forms"
        )
    return head_refusal(layers)


Heads = list[tuple[np.ndarray, np.ndarray, str]]  # (kernel, bias, activation) per Dense layer


def chain_weights(model, cells: dict[str, str] = _CELLS) -> tuple[Recurrence, Heads]:
    """The cell's and the Dense layers' weights, in order; ExportError unless the model is wired as the
    chain its layer list reads as (loop_refusal sees only the list: a head on the LSTM's state output c,
    or one Dense layer called twice, list as LSTM -> Dense but compute something else)."""
    from ..numpy.convert import describe

    try:
        wired = describe(model)[0]
    except UnsupportedLayerError as exc:
        raise ExportError(f"the loop reads the model as a chain of layers, each called once: {exc}") from None
    if any("inputs" in rec for rec in wired):
        raise ExportError("the loop reads the model as a chain of layers; this one has a skip or a merge")
    layers = [layer for layer in model.layers if type(layer).__name__ not in _PASS]
    rec = recurrence(cells[type(layers[0]).__name__], layers[0].get_weights())
    heads = []
    for dense in layers[1:]:
        k, *b = [np.asarray(w, np.float32) for w in dense.get_weights()]
        heads.append((k, b[0] if b else np.zeros(k.shape[1], np.float32), dense.get_config()["activation"]))
    return rec, heads


def calibrate(rec: Recurrence, heads: Heads, windows: np.ndarray) -> dict[str, tuple[float, float]]:
    """(min, max) of each graph tensor over every step of `windows` (float32 Keras equations)."""
    seen: dict[str, tuple[float, float]] = {}

    def see(key: str, v: np.ndarray) -> None:
        lo, hi = seen.get(key, (0.0, 0.0))  # every range holds 0: the zero state is exact
        seen[key] = (min(lo, float(v.min())), max(hi, float(v.max())))

    see("x", windows)
    xw = windows @ rec.kernel + rec.bias
    see("xw", xw)
    y = calibrate_steps(rec, xw, see)
    for n, (k, b, act) in enumerate(heads):
        y = y @ k + b
        y = np.maximum(y, 0) if act == "relu" else y
        see(f"y{n}", y)
    return seen


def affine(lo: float, hi: float) -> tuple[float, int]:
    """int8 (scale, zero point) covering [lo, hi] (which holds 0)."""
    scale = max((hi - lo) / 255.0, 1e-12)
    return scale, int(np.clip(np.round(-128 - lo / scale), -128, 127))


def _per_channel(kernel: np.ndarray, floor: np.ndarray | float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Keras (in, out) -> TFLite (out, in) int8, symmetric, one scale (at least `floor`) per output channel."""
    w = kernel.T
    scale = np.maximum(np.abs(w).max(axis=1) / 127.0, floor)
    return np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8), scale


def build_int8_loop(model, info, calibration: np.ndarray) -> bytes:
    """The loop-form int8 file of `model` (loop_refusal(info) == ''), calibrated on `calibration`
    (windows in the units the model is fed). Raises ExportError without windows."""
    if calibration is None or len(calibration) == 0:
        raise ExportError("the int8 loop needs calibration windows (representative= or --calibration WINDOWS.npy).")
    rec, heads = chain_weights(model)
    ranges = calibrate(rec, heads, np.asarray(calibration, np.float32))
    return _graph(rec, heads, Ranges({k: affine(*v) for k, v in ranges.items()}), info.timesteps).to_bytes()


def build_dynamic_loop(model, info) -> bytes:
    """The loop-form `dynamic` file of `model`: int8 weights, float32 activations (no calibration)."""
    rec, heads = chain_weights(model)
    return _graph(rec, heads, FloatRanges(), info.timesteps).to_bytes()


def dense(graph, x: int, kernel, bias, q: Ranges, in_key: str, out_key: str, *, steps: int = 0, act="linear") -> int:
    """FULLY_CONNECTED of `x` (the tensor q[in_key] describes): per-channel int8 kernel; bias None: none,
    else int32 at input scale x weight scale (int8), or float32 (float activations: the dynamic-range
    kernel quantizes each input row itself); `steps`: x is (B, steps, F) and keeps its time axis."""
    float_io = q.dtype == np.float32
    s_in = 1.0 if float_io else q[in_key][0]
    # a channel's scale is raised until its bias fits int32 (a near-zero kernel column beside a large bias)
    floor = 1e-12 if bias is None or float_io else np.maximum(np.abs(bias) / (s_in * 2.0**30), 1e-12)
    w, scale = _per_channel(kernel, floor)
    zeros = np.zeros(len(scale), np.int64)
    wt = graph.const(w, np.int8, (scale, zeros, 0))
    if bias is None:
        bt = -1
    elif float_io:
        bt = graph.const(bias, np.float32)
    else:
        bt = graph.const(np.round(bias / (s_in * scale)), np.int32, (s_in * scale, zeros, 0))
    out = graph.tensor([1, steps, w.shape[0]] if steps else [1, w.shape[0]], q.dtype, q[out_key], batch=True)
    fused = 1 if act == "relu" else 0  # ActivationFunctionType.RELU
    fc = options(
        "FullyConnected", keepNumDims=bool(steps), fusedActivationFunction=fused, asymmetricQuantizeInputs=float_io
    )
    graph.op("FULLY_CONNECTED", [x, wt, bt], [out], fc)
    return out


def _graph(rec: Recurrence, heads: Heads, q: Ranges, steps: int) -> FlatModel:
    """int8 projects every step's input before the loop, which then carries (B, T, G*U); dynamic carries the
    input (B, T, F) and projects the step's sample in the body, because WHILE moves its loop tensors every
    step and float (B, T, 4U) is 4x the int8 bytes. Measured, LSTM(64), interpreter alone, ratios to float32:
    int8 hoisted 0.69x batch-1 latency / 1.81x batch-1024 throughput, carried 0.74x / 1.90x; dynamic
    hoisted 0.71x / 1.10x, carried 0.76x / 1.61x (its unrolled form: 0.62x / 1.33x)."""
    hoist = q.dtype == np.int8
    features, units, width = rec.kernel.shape[0], rec.units, GATES[rec.kind] * rec.units
    carried = (width, "xw") if hoist else (features, "x")
    flat = FlatModel("edgernn int8 loop")
    main, cond, body = flat.subgraph("main"), flat.subgraph("cond"), flat.subgraph("body")

    def loop_vars(graph) -> list[int]:
        xw = graph.tensor([1, steps, carried[0]], q.dtype, q[carried[1]], batch=True)
        states = [graph.tensor([1, units], q.dtype, q[key], batch=True) for key in rec.states]
        return [graph.tensor([], np.int32), xw, *states]

    x = main.tensor([1, steps, features], q.dtype, q["x"], batch=True)
    xw = dense(main, x, rec.kernel, rec.bias, q, "x", "xw", steps=steps) if hoist else x
    shape, batch, dims = main.tensor([3], np.int32), main.tensor([], np.int32), main.tensor([2], np.int32)
    main.op("SHAPE", [x], [shape], options("Shape", outType=2))  # TensorType.INT32
    slices = [main.const([v], np.int32) for v in (0, 1, 1)]
    main.op("STRIDED_SLICE", [shape, *slices], [batch], options("StridedSlice", shrinkAxisMask=1))
    main.op("PACK", [batch, main.const(units, np.int32)], [dims], options("Pack", valuesCount=2, axis=0))
    zero_states = []
    for key in rec.states:  # each state starts at its zero point: the exact 0.0
        zero_states.append(main.tensor([1, units], q.dtype, q[key], batch=True))
        zero = 0.0 if q[key] is None else q[key][1]
        main.op("FILL", [dims, main.const(zero, q.dtype, q[key])], [zero_states[-1]])
    finals = loop_vars(main)
    loop = options("While", condSubgraphIndex=cond.index, bodySubgraphIndex=body.index)
    main.op("WHILE", [main.const(0, np.int32), xw, *zero_states], finals, loop)
    y = finals[2]
    for n, (k, b, act) in enumerate(heads):
        y = dense(main, y, k, b, q, f"y{n - 1}" if n else "h", f"y{n}", act=act)
    main.graph.inputs, main.graph.outputs = [x], [y]

    cond.graph.inputs = loop_vars(cond)
    more = cond.tensor([], np.bool_)
    cond.op("LESS", [cond.graph.inputs[0], cond.const(steps, np.int32)], [more])
    cond.graph.outputs = [more]

    body.graph.inputs = loop_vars(body)
    t, xw_all, *states = body.graph.inputs
    xw_t = body.tensor([1, carried[0]], q.dtype, q[carried[1]], batch=True)
    body.op("GATHER", [xw_all, t], [xw_t], options("Gather", axis=1, batchDims=0))
    if not hoist:
        xw_t = dense(body, xw_t, rec.kernel, rec.bias, q, "x", "xw")
    next_states = write_body(body, rec, q, xw_t, states, dense)
    t_next = body.tensor([], np.int32)
    body.op("ADD", [t, body.const(1, np.int32)], [t_next], options("Add"))
    body.graph.outputs = [t_next, xw_all, *next_states]
    return flat
