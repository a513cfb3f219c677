"""The `int8` variant's `while` form: a hand-built full-integer TFLite file whose LSTM is one WHILE loop
over the time steps, with a free batch dimension.

Why by hand: the TF 2.21 converter and ai-edge-quantizer crash calibrating a WHILE graph ("Tensor data
is null"), and the unrolled int8 graph they can make holds 24 copies of the step's op and tensor records
(LSTM(64) on (24, 3): 79 KB, 58% of float32, for 17.6 KB of weights). One loop body holds them once.

    main:  x int8 (B, T, F) -> FULLY_CONNECTED (every step's input projection at once, bias folded in)
           -> WHILE(t, xw, h, c) -> Dense head(s) as FULLY_CONNECTED -> y int8
    cond:  t < T
    body:  GATHER xw at t -> + FULLY_CONNECTED(h) -> SPLIT i f g o -> LOGISTIC / TANH
           -> c = f*c + i*g -> h = o*tanh(c) -> t + 1

WHILE copies the body's outputs into its inputs byte for byte, so each loop tensor leaves the body
with the scale and zero point it entered with: one range per loop tensor, the min/max over every step
of every calibration window (calibrate()). Weights are int8 symmetric per output channel, biases
int32 at input scale x weight scale, LOGISTIC out 1/256 zp -128 and TANH 1/128 zp 0 (TFLite's int8
rules). Measured on the LSTM(64) (docs/quantization.md): 33 KB (24% of float32), p99 error 1.1% of
the output range, batch 1 0.69x float32's latency (XNNPACK runs the body's int8 ops), batch 1024
1.8x its throughput.
"""

from __future__ import annotations

import numpy as np

from edgernn.runtime.errors import ExportError

from .flatgraph import FlatModel, options

WHILE_FORM_MODELS = "one LSTM layer (tanh, sigmoid, return_sequences=False) then linear or relu Dense layers"
RECIPE = "edgernn hand-built int8 loop: min/max over every step of the calibration windows, one range per loop tensor"
_SIG, _TANH = (1 / 256, -128), (1 / 128, 0)  # TFLite's int8 LOGISTIC and TANH outputs
_PASS = ("InputLayer", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout")


def loop_refusal(info) -> str:
    """Why the loop form does not cover the model `info` describes ('' when it does)."""
    if len(info.heads) > 1 or len(info.inputs) > 1 or info.features is None or info.mask_value is not None:
        return f"the int8 loop covers {WHILE_FORM_MODELS}, one float input and one output, no masking"
    if info.timesteps is None:
        return "the int8 loop is written for a fixed number of timesteps; this model takes any T"
    layers = [layer for layer in info.layers if layer["class"] not in _PASS]
    kinds = [layer["class"] for layer in layers]  # a wrapper (Bidirectional, TimeDistributed) is its own kind
    if len(kinds) < 2 or kinds[0] != "LSTM" or any(k != "Dense" for k in kinds[1:]):
        return f"the int8 loop covers {WHILE_FORM_MODELS}; this model is {' -> '.join(kinds)}"
    lstm = layers[0]
    if (lstm.get("activation"), lstm.get("recurrent_activation")) != ("tanh", "sigmoid"):
        return f"LSTM {lstm['name']!r} has activations other than tanh/sigmoid (TFLite's int8 kernels)"
    if lstm.get("return_sequences") or lstm.get("go_backwards"):
        return f"LSTM {lstm['name']!r} returns sequences or runs backwards; the int8 loop keeps the last h"
    for dense in layers[1:]:
        if dense.get("activation") not in ("linear", "relu"):
            return f"Dense {dense['name']!r} has activation {dense.get('activation')!r} (linear or relu only)"
    return ""


def _weights(model) -> tuple[tuple[np.ndarray, ...], list[tuple[np.ndarray, np.ndarray, str]]]:
    layers = [layer for layer in model.layers if type(layer).__name__ not in _PASS]
    lstm = layers[0]
    kernel, rkernel, *rest = [np.asarray(w, np.float32) for w in lstm.get_weights()]
    bias = rest[0] if rest else np.zeros(kernel.shape[1], np.float32)
    heads = []
    for dense in layers[1:]:
        k, *b = [np.asarray(w, np.float32) for w in dense.get_weights()]
        heads.append((k, b[0] if b else np.zeros(k.shape[1], np.float32), dense.get_config()["activation"]))
    return (kernel, rkernel, bias), heads


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def calibrate(lstm: tuple[np.ndarray, ...], heads, windows: np.ndarray) -> dict[str, tuple[float, float]]:
    """(min, max) of each graph tensor over every step of `windows` (float32 Keras equations)."""
    kernel, rkernel, bias = lstm
    units = rkernel.shape[0]
    seen: dict[str, tuple[float, float]] = {}

    def see(key: str, v: np.ndarray) -> None:
        lo, hi = seen.get(key, (0.0, 0.0))  # every range holds 0: the zero state is exact
        seen[key] = (min(lo, float(v.min())), max(hi, float(v.max())))

    see("x", windows)
    xw = windows @ kernel + bias
    see("xw", xw)
    h = np.zeros((len(windows), units), np.float32)
    c = np.zeros_like(h)
    for t in range(windows.shape[1]):
        hw = h @ rkernel
        z = xw[:, t] + hw
        see("hw", hw), see("z", z)
        i, f = _sigmoid(z[:, :units]), _sigmoid(z[:, units : 2 * units])
        g, o = np.tanh(z[:, 2 * units : 3 * units]), _sigmoid(z[:, 3 * units :])
        see("fc", f * c), see("ig", i * g)
        c = f * c + i * g
        h = o * np.tanh(c)
        see("c", c), see("h", h)
    y = h
    for n, (k, b, act) in enumerate(heads):
        y = y @ k + b
        y = np.maximum(y, 0) if act == "relu" else y
        see(f"y{n}", y)
    return seen


def affine(lo: float, hi: float) -> tuple[float, int]:
    """int8 (scale, zero point) covering [lo, hi] (which holds 0)."""
    scale = max((hi - lo) / 255.0, 1e-12)
    return scale, int(np.clip(np.round(-128 - lo / scale), -128, 127))


def _per_channel(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras (in, out) -> TFLite (out, in) int8, symmetric, one scale per output channel."""
    w = kernel.T
    scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0
    return np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8), scale


def build_int8_loop(model, info, calibration: np.ndarray) -> bytes:
    """The loop-form int8 file of `model` (loop_refusal(model, info) == ''), calibrated on `calibration`
    (windows in the units the model is fed). Raises ExportError without windows."""
    if calibration is None or len(calibration) == 0:
        raise ExportError("the int8 loop needs calibration windows (representative= or --calibration WINDOWS.npy).")
    lstm, heads = _weights(model)
    q = {k: affine(*v) for k, v in calibrate(lstm, heads, np.asarray(calibration, np.float32)).items()}
    return _graph(lstm, heads, q, info.timesteps).to_bytes()


def _graph(lstm, heads, q: dict[str, tuple[float, int]], steps: int) -> FlatModel:
    kernel, rkernel, bias = lstm
    features, units = kernel.shape[0], rkernel.shape[0]
    flat = FlatModel("edgernn int8 loop")
    main, cond, body = flat.subgraph("main"), flat.subgraph("cond"), flat.subgraph("body")

    def dense(graph, x, k, b, s_in, out_q, *, keep=False, act="linear") -> int:
        w, scale = _per_channel(k)
        zeros = np.zeros(len(scale), np.int64)
        wt = graph.const(w, np.int8, (scale, zeros, 0))
        bt = -1 if b is None else graph.const(np.round(b / (s_in * scale)), np.int32, (s_in * scale, zeros, 0))
        shape = [1, steps, w.shape[0]] if keep else [1, w.shape[0]]
        out = graph.tensor(shape, np.int8, out_q, batch=True)
        fused = 1 if act == "relu" else 0  # ActivationFunctionType.RELU
        graph.op(
            "FULLY_CONNECTED",
            [x, wt, bt],
            [out],
            options("FullyConnected", keepNumDims=keep, fusedActivationFunction=fused),
        )
        return out

    def loop_vars(graph) -> list[int]:
        return [
            graph.tensor([], np.int32),
            graph.tensor([1, steps, 4 * units], np.int8, q["xw"], batch=True),
            graph.tensor([1, units], np.int8, q["h"], batch=True),
            graph.tensor([1, units], np.int8, q["c"], batch=True),
        ]

    x = main.tensor([1, steps, features], np.int8, q["x"], batch=True)
    xw = dense(main, x, kernel, bias, q["x"][0], q["xw"], keep=True)
    shape, batch, dims = main.tensor([3], np.int32), main.tensor([], np.int32), main.tensor([2], np.int32)
    main.op("SHAPE", [x], [shape], options("Shape", outType=2))  # TensorType.INT32
    one = [main.const([v], np.int32) for v in (0, 1, 1)]
    main.op("STRIDED_SLICE", [shape, *one], [batch], options("StridedSlice", shrinkAxisMask=1))
    main.op("PACK", [batch, main.const(units, np.int32)], [dims], options("Pack", valuesCount=2, axis=0))
    zero_state = []
    for key in ("h", "c"):
        zero_state.append(main.tensor([1, units], np.int8, q[key], batch=True))
        main.op("FILL", [dims, main.const(q[key][1], np.int8, q[key])], [zero_state[-1]])
    finals = loop_vars(main)
    main.op(
        "WHILE",
        [main.const(0, np.int32), xw, *zero_state],
        finals,
        options("While", condSubgraphIndex=cond.index, bodySubgraphIndex=body.index),
    )
    y, s_y = finals[2], q["h"][0]
    for n, (k, b, act) in enumerate(heads):
        y = dense(main, y, k, b, s_y, q[f"y{n}"], act=act)
        s_y = q[f"y{n}"][0]
    main.graph.inputs, main.graph.outputs = [x], [y]

    cond.graph.inputs = loop_vars(cond)
    more = cond.tensor([], np.bool_)
    cond.op("LESS", [cond.graph.inputs[0], cond.const(steps, np.int32)], [more])
    cond.graph.outputs = [more]

    body.graph.inputs = loop_vars(body)
    t, xw_all, h, c = body.graph.inputs

    def act(shape_q) -> int:
        return body.tensor([1, units], np.int8, shape_q, batch=True)

    xw_t = body.tensor([1, 4 * units], np.int8, q["xw"], batch=True)
    body.op("GATHER", [xw_all, t], [xw_t], options("Gather", axis=1, batchDims=0))
    hw = dense(body, h, rkernel, None, q["h"][0], q["hw"])
    z = body.tensor([1, 4 * units], np.int8, q["z"], batch=True)
    body.op("ADD", [xw_t, hw], [z], options("Add"))
    gates = [act(q["z"]) for _ in range(4)]  # Keras's order: i, f, g (the candidate), o
    body.op("SPLIT", [body.const(1, np.int32), z], gates, options("Split", numSplits=4))
    i, f, g, o = act(_SIG), act(_SIG), act(_TANH), act(_SIG)
    for src, dst, name in zip(gates, (i, f, g, o), ("LOGISTIC", "LOGISTIC", "TANH", "LOGISTIC")):
        body.op(name, [src], [dst])
    fc, ig, c_next, tanh_c, h_next = act(q["fc"]), act(q["ig"]), act(q["c"]), act(_TANH), act(q["h"])
    body.op("MUL", [f, c], [fc], options("Mul"))
    body.op("MUL", [i, g], [ig], options("Mul"))
    body.op("ADD", [fc, ig], [c_next], options("Add"))
    body.op("TANH", [c_next], [tanh_c])
    body.op("MUL", [o, tanh_c], [h_next], options("Mul"))
    t_next = body.tensor([], np.int32)
    body.op("ADD", [t, body.const(1, np.int32)], [t_next], options("Add"))
    body.graph.outputs = [t_next, xw_all, h_next, c_next]
    return flat
