"""The recurrent cells of the int8 loop (int8_loop.py): each cell's float32 equations, run over the
calibration windows to find every loop tensor's range, and the same equations written as the WHILE
body's int8 ops. One table per cell, so the calibration and the body cannot drift apart: `see(key, v)`
in calibrate_steps() names the tensors whose ranges write_body() reads from `q[key]`.

    lstm:       z = xw_t + h R;  i f g o = split(z);  c = sig(f) c + sig(i) tanh(g);  h = sig(o) tanh(c)
    gru:        (reset_after=True, Keras's default) hr = h R + b_r;  z = sig(xz + hz);  r = sig(xr + hr_r)
                hh = tanh(xh + r hr_h);  h = hh + z (h - hh)

xw_t is the step's input projection x_t K + b, computed for every step at once before the loop.
SimpleRNN is not a loop cell: its step is one matmul and one TANH, and the WHILE's per-step cost
outweighs it (SimpleRNN(64) on (24, 3), measured: loop 2.19x float32's batch-1 latency against the
unrolled int8's 1.63x, at the same batch-1024 throughput; docs/quantization.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .flatgraph import Subgraph, options

SIG, TANH = (1 / 256, -128), (1 / 128, 0)  # TFLite's int8 LOGISTIC and TANH outputs
GATES = {"lstm": 4, "gru": 3}
STATES = {"lstm": ("h", "c"), "gru": ("h",)}


class Ranges(dict):
    """Each loop tensor's int8 (scale, zero point) under the key calibrate_steps() reports it by, and the
    LOGISTIC/TANH outputs' under "sig"/"tanh"; `dtype` is the activations' type."""

    dtype = np.int8

    def __init__(self, ranges: dict) -> None:
        super().__init__(ranges, sig=SIG, tanh=TANH)


class FloatRanges(Ranges):
    """float32 activations (the dynamic variant: int8 weights, float compute): no tensor is quantized."""

    dtype = np.float32

    def __init__(self) -> None:
        dict.__init__(self)

    def __missing__(self, key: str) -> None:
        return None


@dataclass(frozen=True)
class Recurrence:
    """One recurrent layer's weights, Keras layout: kernel (F, G*U), rkernel (U, G*U), bias (G*U,) folded
    into the input projection, rbias (G*U,) the GRU's recurrent bias (None for the others)."""

    kind: str
    kernel: np.ndarray
    rkernel: np.ndarray
    bias: np.ndarray
    rbias: np.ndarray | None = None

    @property
    def units(self) -> int:
        return int(self.rkernel.shape[0])

    @property
    def states(self) -> tuple[str, ...]:
        return STATES[self.kind]


def recurrence(kind: str, weights: list[np.ndarray]) -> Recurrence:
    kernel, rkernel, *rest = [np.asarray(w, np.float32) for w in weights]
    width = kernel.shape[1]
    if kind == "gru" and rest:  # reset_after: bias (2, 3U), input then recurrent
        return Recurrence(kind, kernel, rkernel, rest[0][0], rest[0][1])
    bias = rest[0] if rest else np.zeros(width, np.float32)
    return Recurrence(kind, kernel, rkernel, bias, np.zeros(width, np.float32) if kind == "gru" else None)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def calibrate_steps(rec: Recurrence, xw: np.ndarray, see: Callable[[str, np.ndarray], None]) -> np.ndarray:
    """Run the cell over every step of xw (n, T, G*U); report each loop tensor to `see`; return the last h."""
    u = rec.units
    h = np.zeros((len(xw), u), np.float32)
    c = np.zeros_like(h)
    for t in range(xw.shape[1]):
        x_t = xw[:, t]
        if rec.kind == "lstm":
            hw = h @ rec.rkernel
            z = x_t + hw
            see("hw", hw), see("z", z)
            i, f = _sigmoid(z[:, :u]), _sigmoid(z[:, u : 2 * u])
            g, o = np.tanh(z[:, 2 * u : 3 * u]), _sigmoid(z[:, 3 * u :])
            see("fc", f * c), see("ig", i * g)
            c = f * c + i * g
            h = o * np.tanh(c)
            see("c", c)
        else:
            hr = h @ rec.rkernel + rec.rbias
            see("hw", hr)
            gates = x_t[:, : 2 * u] + hr[:, : 2 * u]
            see("zz", gates[:, :u]), see("zr", gates[:, u:])
            z, r = _sigmoid(gates[:, :u]), _sigmoid(gates[:, u:])
            see("rh", r * hr[:, 2 * u :])
            pre = x_t[:, 2 * u :] + r * hr[:, 2 * u :]
            see("hpre", pre)
            hh = np.tanh(pre)
            see("d", h - hh), see("zd", z * (h - hh))
            h = hh + z * (h - hh)
        see("h", h)
    return h


Dense = Callable[..., int]  # int8_loop's FULLY_CONNECTED writer: dense(graph, x, kernel, bias, q, in_key, out_key)


class Ops:
    """Writers of the cells' elementwise ops into `graph`: each output is a (batch, width) tensor of the
    activations' type with the quantization q[key] (or TFLite's fixed LOGISTIC/TANH output ranges)."""

    def __init__(self, graph: Subgraph, q: Ranges, units: int):
        self.graph, self.q, self.units = graph, q, units

    def act(self, quant, width: int = 0) -> int:
        return self.graph.tensor([1, width or self.units], self.q.dtype, quant, batch=True)

    def binary(self, name: str, a: int, b: int, quant) -> int:
        out = self.act(quant)
        self.graph.op(name, [a, b], [out], options(name.capitalize()))
        return out

    def unary(self, name: str, a: int, quant) -> int:
        out = self.act(quant)
        self.graph.op(name, [a], [out])
        return out

    def split(self, x: int, parts: int, quant) -> list[int]:
        outs = [self.act(quant) for _ in range(parts)]
        self.graph.op("SPLIT", [self.graph.const(1, np.int32), x], outs, options("Split", numSplits=parts))
        return outs


def write_body(body: Subgraph, rec: Recurrence, q: Ranges, xw_t: int, states: list[int], dense: Dense) -> list[int]:
    """The step's ops from the step's input projection `xw_t` and the states; returns the next states."""
    u, ops = rec.units, Ops(body, q, rec.units)
    binary, unary, split = ops.binary, ops.unary, ops.split
    h = states[0]
    if rec.kind == "lstm":
        hw = dense(body, h, rec.rkernel, None, q, "h", "hw")
        z = ops.act(q["z"], 4 * u)
        body.op("ADD", [xw_t, hw], [z], options("Add"))
        zi, zf, zg, zo = split(z, 4, q["z"])  # Keras's order: i, f, g (the candidate), o
        i, f, g, o = (
            unary("LOGISTIC", zi, q["sig"]),
            unary("LOGISTIC", zf, q["sig"]),
            unary("TANH", zg, q["tanh"]),
            unary("LOGISTIC", zo, q["sig"]),
        )
        c = binary("ADD", binary("MUL", f, states[1], q["fc"]), binary("MUL", i, g, q["ig"]), q["c"])
        return [binary("MUL", o, unary("TANH", c, q["tanh"]), q["h"]), c]
    hr = dense(body, h, rec.rkernel, rec.rbias, q, "h", "hw")  # gru
    xz, xr, xh = split(xw_t, 3, q["xw"])
    hz, hrr, hh_ = split(hr, 3, q["hw"])
    z = unary("LOGISTIC", binary("ADD", xz, hz, q["zz"]), q["sig"])
    r = unary("LOGISTIC", binary("ADD", xr, hrr, q["zr"]), q["sig"])
    hh = unary("TANH", binary("ADD", xh, binary("MUL", r, hh_, q["rh"]), q["hpre"]), q["tanh"])
    zd = binary("MUL", z, binary("SUB", h, hh, q["d"]), q["zd"])
    return [binary("ADD", hh, zd, q["h"])]
