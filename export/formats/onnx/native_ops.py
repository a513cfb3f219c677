"""The pieces of a native ONNX graph: recurrent ops (`RNN`, `GRU`, `LSTM`) from Keras weights, merges, Dense.

The layer list and arrays are model.npz's (export/formats/numpy/convert.describe), so the two
formats read one description of the model. Each recurrent layer becomes one ONNX op, time-major
(ONNX's layout 0), with Keras's kernels transposed and its gates reordered:
- LSTM: Keras i,f,c,o -> ONNX i,o,f,c; activations f=recurrent_activation, g=h=activation.
- GRU: z,r,h in both; reset_after=True -> linear_before_reset=1 with B = [input bias, recurrent
  bias]; reset_after=False -> linear_before_reset=0, the single bias as the input bias.
- SimpleRNN: `RNN` with the activation.
- Bidirectional: direction="bidirectional", both halves' weights stacked; merge modes concat, sum,
  mul, ave from the two directions of Y (return_sequences) or Y_h. go_backwards alone: the
  sequence reversed before a forward op (Keras returns the steps in processing order).
Dense is Gemm on a vector, MatMul + Add on a sequence. An activation with no exact ONNX counterpart
raises UnsupportedLayerError, so the caller keeps tf2onnx's graph and records why.

Measured against tf2onnx's forms in benchmarks/backend_latency.py (RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...model_info import UnsupportedLayerError

# Keras activation -> (ONNX recurrent activation name, alpha, beta); alpha/beta None when not used.
RNN_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: relu6(x + 3) / 6
    "relu": ("Relu", None, None),
    "linear": ("Affine", 1.0, 0.0),
    "softsign": ("Softsign", None, None),
    "elu": ("Elu", 1.0, None),
}
# Keras activation -> ONNX ops after a Dense layer (None: no op).
DENSE_ACTIVATIONS = {
    "linear": None,
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "relu": "Relu",
    "softsign": "Softsign",
    "exponential": "Exp",
    "softmax": "Softmax",
    "elu": "Elu",
    "softplus": "Softplus",
}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
OP_TYPES = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
LSTM_ORDER = (0, 3, 1, 2)  # ONNX gate k takes Keras gate LSTM_ORDER[k]: i,o,f,c from i,f,c,o


@dataclass
class Graph:
    """The nodes and initializers being written, with fresh names."""

    nodes: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)
    count: int = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem: str, value: np.ndarray, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> list[str]:
        from onnx import helper

        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names

    def one(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        return self.op(op_type, inputs, **attrs)[0]

    def rename(self, tensor: str, name: str) -> None:
        """Name a node's output `name` (a graph output): no Identity node, one kernel call less."""
        for node in self.nodes:
            node.output[:] = [name if o == tensor else o for o in node.output]
            node.input[:] = [name if i == tensor else i for i in node.input]


def _gates(matrix: np.ndarray, kind: str, units: int) -> np.ndarray:
    """Keras (in, gates*units) or (gates*units,) -> ONNX gate order along the gate axis, transposed."""
    m = np.asarray(matrix, np.float32)
    if kind == "lstm":
        blocks = np.split(m, 4, axis=-1)
        m = np.concatenate([blocks[k] for k in LSTM_ORDER], axis=-1)
    return m.T if m.ndim == 2 else m


def _rnn_activation(name: Any, where: str) -> tuple[str, float | None, float | None]:
    if name not in RNN_ACTIVATIONS:
        raise UnsupportedLayerError(
            f"{where}: activation {name!r} has no exact ONNX recurrent activation (mapped: {sorted(RNN_ACTIVATIONS)})"
        )
    return RNN_ACTIVATIONS[name]


def _activations(rec: Mapping[str, Any], where: str) -> list[tuple[str, float | None, float | None]]:
    act = _rnn_activation(rec["activation"], where)
    if rec["kind"] == "simple_rnn":
        return [act]
    gate = _rnn_activation(rec["recurrent_activation"], where)
    return [gate, act] if rec["kind"] == "gru" else [gate, act, act]


def _direction_weights(rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], inputs: int):
    """(W, R, B) of one direction in ONNX layout: (G*H, in), (G*H, H), (2*G*H,)."""
    kind, units = rec["kind"], int(rec["units"])
    width = GATES[kind] * units
    w = _gates(arrays[rec["kernel"]], kind, units)
    r = _gates(arrays[rec["recurrent_kernel"]], kind, units)
    if w.shape != (width, inputs) or r.shape != (width, units):
        raise UnsupportedLayerError(
            f"layer kernels {w.shape}, {r.shape}; expected ({width}, {inputs}), ({width}, {units})"
        )
    bias = np.zeros(2 * width, np.float32)
    if "bias" in rec:
        b = np.asarray(arrays[rec["bias"]], np.float32)
        if kind == "gru" and rec.get("reset_after", True):
            bias = np.concatenate([b[0], b[1]])  # [input bias, recurrent bias], both z,r,h
        else:
            bias[:width] = _gates(b, kind, units)
    return w, r, bias


def recurrent_attrs(rec: Mapping[str, Any], directions: int, where: str) -> dict[str, Any]:
    """The ONNX op's attributes (activations for every direction, hidden_size, GRU's reset form)."""
    acts = _activations(rec, where) * directions
    attrs: dict[str, Any] = {"hidden_size": int(rec["units"]), "activations": [a[0] for a in acts]}
    if any(a[1] is not None for a in acts):
        attrs["activation_alpha"] = [a[1] if a[1] is not None else 0.0 for a in acts]
    if any(a[2] is not None for a in acts):
        attrs["activation_beta"] = [a[2] if a[2] is not None else 0.0 for a in acts]
    if rec["kind"] == "gru":
        attrs["linear_before_reset"] = 1 if rec.get("reset_after", True) else 0
    return attrs


def _same_config(forward: Mapping[str, Any], backward: Mapping[str, Any]) -> bool:
    keys = ("kind", "units", "activation", "recurrent_activation", "reset_after")
    return all(forward.get(k) == backward.get(k) for k in keys) and ("bias" in forward) == ("bias" in backward)


def recurrent_op(
    g: Graph,
    x: str,
    recs: Sequence[Mapping[str, Any]],
    arrays: Mapping[str, np.ndarray],
    inputs: int,
    initial: Sequence[str] = (),
) -> list[str]:
    """One ONNX RNN/GRU/LSTM node over time-major `x` for one direction or two (forward, backward).

    `initial` are initial_h (and initial_c) of shape (directions, batch, units); returns the op's
    outputs Y (T, directions, batch, units), Y_h (and Y_c for LSTM).
    """
    rec, where = recs[0], f"{recs[0]['kind']} layer"
    if len(recs) == 2 and not _same_config(*recs):
        raise UnsupportedLayerError(f"{where}: the Bidirectional halves differ in configuration")
    parts = [_direction_weights(r, arrays, inputs) for r in recs]
    w, r, b = (g.const(n, np.stack([p[i] for p in parts])) for i, n in enumerate(("W", "R", "B")))
    attrs = recurrent_attrs(rec, len(recs), where)
    if len(recs) == 2:
        attrs["direction"] = "bidirectional"
    states = list(initial)
    ins = [x, w, r, b] + (["", *states] if states else [])  # sequence_lens left out
    return g.op(OP_TYPES[rec["kind"]], ins, 3 if rec["kind"] == "lstm" else 2, **attrs)


def reverse_time(g: Graph, x: str) -> str:
    """`x` with its first (time) axis reversed."""
    consts = [
        g.const(n, np.array([v]), np.int64) for n, v in (("start", -1), ("end", -(2**62)), ("axis", 0), ("step", -1))
    ]
    return g.one("Slice", [x, *consts])


def squeeze(g: Graph, x: str, axis: int) -> str:
    return g.one("Squeeze", [x, g.const("axes", np.array([axis]), np.int64)])


def merge(g: Graph, y: str, axis: int, mode: str, rank: int) -> str:
    """Merge the two directions stacked on `axis` of `y` into the last axis the Keras way."""
    fw, bw = (
        squeeze(g, t, axis) for t in g.op("Split", [y, g.const("split", np.array([1, 1]), np.int64)], 2, axis=axis)
    )
    if mode == "concat":
        return g.one("Concat", [fw, bw], axis=rank - 1)
    if mode == "sum":
        return g.one("Add", [fw, bw])
    if mode == "mul":
        return g.one("Mul", [fw, bw])
    if mode == "ave":
        return g.one("Mul", [g.one("Add", [fw, bw]), g.const("half", np.array(0.5))])
    raise UnsupportedLayerError(f"Bidirectional merge_mode {mode!r} has no native ONNX form")


def dense(g: Graph, x: str, rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], vector: bool) -> str:
    """A Dense layer: Gemm on (batch, in), MatMul + Add on a sequence, then its activation."""
    act = rec.get("activation", "linear")
    if act not in DENSE_ACTIVATIONS:
        raise UnsupportedLayerError(
            f"Dense activation {act!r} has no exact ONNX op here (mapped: {sorted(DENSE_ACTIVATIONS)})"
        )
    kernel = g.const("kernel", arrays[rec["kernel"]])
    bias = g.const("bias", arrays[rec["bias"]]) if "bias" in rec else None
    if vector:
        y = g.one("Gemm", [x, kernel] + ([bias] if bias else []))
    else:
        y = g.one("MatMul", [x, kernel])
        y = g.one("Add", [y, bias]) if bias else y
    op = DENSE_ACTIVATIONS[act]
    if op is None:
        return y
    return g.one(op, [y], axis=-1) if op == "Softmax" else g.one(op, [y])
