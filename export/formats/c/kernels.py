"""C text of each layer: the weights as `const` arrays and one step function per recurrent layer.

Every loop has literal bounds and a contiguous inner loop over the output columns (Keras stores a
kernel (in, gates*units), row by row), so a compiler vectorizes it at -O2; the gates of a cell are
one matrix, so a step is two matrix-vector products (input and recurrent) and then the activations.
Gate orders are Keras's: LSTM i,f,c,o; GRU z,r,h (reset_after=True keeps separate input and
recurrent biases). The int8-weight form stores each kernel as signed char with one float scale per
output column ("per output row" of the transposed matrix), accumulates in float and scales once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgernn.runtime.errors import ExportError

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
VALUES_PER_LINE = 8


def c_float(value: float) -> str:
    """A float32 as a C literal that reads back to the same bits (9 significant digits)."""
    text = f"{float(np.float32(value)):.9g}"
    return text + ("f" if any(ch in text for ch in ".e") else ".0f")


def array(ctype: str, name: str, values: np.ndarray, render) -> str:
    flat = np.asarray(values).ravel()
    items = [render(v) for v in flat]
    rows = [", ".join(items[i : i + VALUES_PER_LINE]) for i in range(0, len(items), VALUES_PER_LINE)]
    body = ",\n  ".join(rows)
    return f"static const {ctype} {name}[{max(len(items), 1)}] = {{\n  {body or '0'}\n}};\n"


def quantize_columns(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 kernel, float32 scale per column): symmetric, scale = max |column| / 127 (1 for a zero column)."""
    peak = np.abs(kernel).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(kernel / scale), -127, 127).astype(np.int8)
    return q, scale


@dataclass(frozen=True)
class Emitter:
    """Writes the weights of one model and the loops that read them, in float32 or int8-weight form."""

    int8: bool = False

    def weights(self, name: str, kernel: np.ndarray) -> str:
        if not np.isfinite(kernel).all():
            raise ExportError(f"{name}: the weights hold NaN or inf; a C model needs finite weights.")
        if not self.int8:
            return array("float", name, kernel.astype(np.float32), c_float)
        q, scale = quantize_columns(kernel.astype(np.float32))
        return array("signed char", f"{name}_Q", q, lambda v: str(int(v))) + array("float", f"{name}_S", scale, c_float)

    def bias(self, name: str, bias: np.ndarray) -> str:
        if not np.isfinite(bias).all():
            raise ExportError(f"{name}: the bias holds NaN or inf; a C model needs finite weights.")
        return array("float", name, bias.astype(np.float32), c_float)

    def matvec(self, z: str, x: str, n: int, w: str, cols: int, stride: int, at: int = 0) -> str:
        """`z[0:cols] += x[0:n] @ w[:, at:at+cols]` of a (n, stride) kernel, as C statements."""
        col = f"{at} + " if at else ""
        if not self.int8:
            return (
                f"  for (k = 0; k < {n}; ++k) {{\n    const float xk = {x}[k];\n"
                f"    const float *w = {w} + {col}k * {stride};\n"
                f"    for (j = 0; j < {cols}; ++j) {z}[j] += xk * w[j];\n  }}\n"
            )
        return (
            f"  for (j = 0; j < {cols}; ++j) acc[j] = 0.0f;\n"
            f"  for (k = 0; k < {n}; ++k) {{\n    const float xk = {x}[k];\n"
            f"    const signed char *w = {w}_Q + {col}k * {stride};\n"
            f"    for (j = 0; j < {cols}; ++j) acc[j] += xk * (float)w[j];\n  }}\n"
            f"  for (j = 0; j < {cols}; ++j) {z}[j] += {w}_S[{col}j] * acc[j];\n"
        )

    def acc(self, cols: int) -> str:
        return f"  float acc[{cols}];\n" if self.int8 else ""


def apply(act: str, v: str, n: int) -> str:
    """Apply activation `act` to v[0:n] in place."""
    if act == "linear":
        return ""
    if act == "softmax":
        return f"  v_softmax({v}, {n});\n"
    base, _, at = v.partition(" + ")
    item = f"{base}[{at} + j]" if at else f"{v}[j]"
    return f"  for (j = 0; j < {n}; ++j) {item} = f_{act}({item});\n"


def recurrent(em: Emitter, name: str, rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> tuple[str, str]:
    """(weights, step function) of one SimpleRNN/LSTM/GRU: `name_step(h, c, x)` updates h (and c) in place."""
    kind, u = rec["kind"], int(rec["units"])
    g = GATES[kind] * u
    kernel = arrays[rec["kernel"]]
    n = int(kernel.shape[0])
    act, ract = rec["activation"], rec.get("recurrent_activation", "sigmoid")
    bias = arrays[rec["bias"]] if rec.get("bias") else None
    two_biases = kind == "gru" and rec.get("reset_after", True)
    if bias is None:
        bias = np.zeros((2, g) if two_biases else (g,), np.float32)
    W, U, B = f"{name}_W", f"{name}_U", f"{name}_B"
    data = em.weights(W, kernel) + em.weights(U, arrays[rec["recurrent_kernel"]])
    data += em.bias(B, bias[0] if two_biases else bias) + (em.bias(f"{name}_RB", bias[1]) if two_biases else "")
    head = f"static void {name}_step(float *restrict h, float *restrict c, const float *restrict x) {{\n  int j, k;\n"
    if kind == "simple_rnn":
        body = f"  float z[{g}];\n{em.acc(g)}  (void)c;\n  for (j = 0; j < {g}; ++j) z[j] = {B}[j];\n"
        body += em.matvec("z", "x", n, W, g, g) + em.matvec("z", "h", u, U, g, g) + apply(act, "z", u)
        body += f"  for (j = 0; j < {u}; ++j) h[j] = z[j];\n"
    elif kind == "lstm":
        body = f"  float z[{g}];\n{em.acc(g)}  for (j = 0; j < {g}; ++j) z[j] = {B}[j];\n"
        body += em.matvec("z", "x", n, W, g, g) + em.matvec("z", "h", u, U, g, g)
        body += apply(ract, "z", u) + apply(ract, f"z + {u}", u) + apply(act, f"z + {2 * u}", u)
        body += apply(ract, f"z + {3 * u}", u)
        body += f"  for (j = 0; j < {u}; ++j) {{\n    c[j] = z[{u} + j] * c[j] + z[j] * z[{2 * u} + j];\n"
        body += f"    z[{2 * u} + j] = c[j];\n  }}\n" + apply(act, f"z + {2 * u}", u)
        body += f"  for (j = 0; j < {u}; ++j) h[j] = z[{3 * u} + j] * z[{2 * u} + j];\n"
    elif two_biases:  # GRU reset_after=True: hh = act(x_h + r * (h @ U_h + rb_h))
        body = f"  float z[{g}], r[{g}];\n{em.acc(g)}  (void)c;\n"
        body += f"  for (j = 0; j < {g}; ++j) {{\n    z[j] = {B}[j];\n    r[j] = {name}_RB[j];\n  }}\n"
        body += em.matvec("z", "x", n, W, g, g) + em.matvec("r", "h", u, U, g, g)
        body += f"  for (j = 0; j < {2 * u}; ++j) z[j] += r[j];\n"
        body += apply(ract, "z", u) + apply(ract, f"z + {u}", u)
        body += f"  for (j = 0; j < {u}; ++j) z[{2 * u} + j] += z[{u} + j] * r[{2 * u} + j];\n"
        body += apply(act, f"z + {2 * u}", u) + _gru_update(u)
    else:  # GRU reset_after=False: hh = act(x_h + (r * h) @ U_h)
        body = f"  float z[{g}], rh[{u}];\n{em.acc(2 * u)}  (void)c;\n  for (j = 0; j < {g}; ++j) z[j] = {B}[j];\n"
        body += em.matvec("z", "x", n, W, g, g) + em.matvec("z", "h", u, U, 2 * u, g)
        body += apply(ract, "z", u) + apply(ract, f"z + {u}", u)
        body += f"  for (j = 0; j < {u}; ++j) rh[j] = z[{u} + j] * h[j];\n"
        body += em.matvec(f"(z + {2 * u})", "rh", u, U, u, g, at=2 * u)
        body += apply(act, f"z + {2 * u}", u) + _gru_update(u)
    return data, head + body + "}\n"


def _gru_update(u: int) -> str:
    return f"  for (j = 0; j < {u}; ++j) h[j] = z[j] * h[j] + (1.0f - z[j]) * z[{2 * u} + j];\n"


def dense(em: Emitter, name: str, rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> tuple[str, str]:
    """(weights, function) of a Dense layer: `name_apply(x, y)` writes y = act(x @ W + b)."""
    kernel = arrays[rec["kernel"]]
    n, m = (int(s) for s in kernel.shape)
    bias = arrays[rec["bias"]] if rec.get("bias") else np.zeros(m, np.float32)
    data = em.weights(f"{name}_W", kernel) + em.bias(f"{name}_B", bias)
    body = f"static void {name}_apply(const float *restrict x, float *restrict y) {{\n  int j, k;\n{em.acc(m)}"
    body += f"  for (j = 0; j < {m}; ++j) y[j] = {name}_B[j];\n" + em.matvec("y", "x", n, f"{name}_W", m, m)
    return data, body + apply(rec["activation"], "y", m) + "}\n"


def multiply_adds(rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> int:
    """Multiply-adds of one step of a recurrent layer, or one application of a Dense layer."""
    kernel = arrays[rec["kernel"]]
    macs = int(kernel.size)
    if rec["kind"] != "dense":
        macs += int(arrays[rec["recurrent_kernel"]].size)
    return macs
