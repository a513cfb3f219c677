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
UNROLL = 4  # rows of a kernel per pass over the gates: 8 is 7% faster at -O2 (LSTM(64)) but +190 B of -Os text


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
    """Writes the weights of one model and the loops that read them, in float32 or int8-weight form.

    int8: the matrices that add into the same outputs (a cell's input and recurrent kernels) share
    one float scale per output column, so the products accumulate straight into the gate vector,
    which starts at bias / scale and is multiplied by the scale once: no second buffer on the stack.
    """

    int8: bool = False

    def weights(self, scale: str, *named: tuple[str, np.ndarray]) -> tuple[str, np.ndarray]:
        """The C arrays of the kernels `named` ((name, (rows, cols)) each) and their column scale (1 in float32)."""
        for name, kernel in named:
            if not np.isfinite(kernel).all():
                raise ExportError(f"{name}: the weights hold NaN or inf; a C model needs finite weights.")
        cols = named[0][1].shape[1]
        if not self.int8:
            text = "".join(array("float", name, k.astype(np.float32), c_float) for name, k in named)
            return text, np.ones(cols, np.float32)
        q, factor = quantize_columns(np.vstack([k for _, k in named]).astype(np.float32))
        text, at = "", 0
        for name, k in named:
            text += array("signed char", f"{name}_Q", q[at : at + len(k)], lambda v: str(int(v)))
            at += len(k)
        return text + array("float", scale, factor, c_float), factor

    def bias(self, name: str, bias: np.ndarray, factor: np.ndarray) -> str:
        if not np.isfinite(bias).all():
            raise ExportError(f"{name}: the bias holds NaN or inf; a C model needs finite weights.")
        values = bias.astype(np.float32) / factor if self.int8 else bias.astype(np.float32)
        return array("float", name, values, c_float)

    def matvec(self, z: str, x: str, n: int, w: str, cols: int, stride: int, at: int = 0) -> str:
        """`z[0:cols] += x[0:n] @ w[:, at:at+cols]` of a (n, stride) kernel, as C statements.

        Four rows per pass over z (a quarter of the loads and stores of z), then the remaining rows.
        """
        col = f"{at} + " if at else ""
        ctype, name = ("signed char", f"{w}_Q") if self.int8 else ("float", w)
        cast = "(float)" if self.int8 else ""
        text = ""
        if n >= UNROLL:
            xs = ", ".join(f"x{r} = {x}[k + {r}]" for r in range(UNROLL))
            ws = ", ".join(f"*w{r} = {name} + {col}(k + {r}) * {stride}" for r in range(UNROLL))
            terms = " + ".join(f"x{r} * {cast}w{r}[j]" for r in range(UNROLL))
            text += (
                f"  for (k = 0; k < {n - n % UNROLL}; k += {UNROLL}) {{\n    const float {xs};\n"
                f"    const {ctype} {ws};\n    for (j = 0; j < {cols}; ++j) {z}[j] += {terms};\n  }}\n"
            )
        if n % UNROLL:
            text += (
                f"  for (k = {n - n % UNROLL}; k < {n}; ++k) {{\n    const float xk = {x}[k];\n"
                f"    const {ctype} *w = {name} + {col}k * {stride};\n"
                f"    for (j = 0; j < {cols}; ++j) {z}[j] += xk * {cast}w[j];\n  }}\n"
            )
        return text

    def rescale(self, z: str, cols: int, scale: str, at: int = 0) -> str:
        """int8 only: `z[at:at+cols] *= scale[at:at+cols]`, once the products are summed."""
        if not self.int8:
            return ""
        return f"  for (j = 0; j < {cols}; ++j) {z}[{at} + j] *= {scale}[{at} + j];\n"


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
    kernel, rkernel = arrays[rec["kernel"]], arrays[rec["recurrent_kernel"]]
    n = int(kernel.shape[0])
    act, ract = rec["activation"], rec.get("recurrent_activation", "sigmoid")
    bias = arrays[rec["bias"]] if rec.get("bias") else None
    two_biases = kind == "gru" and rec.get("reset_after", True)
    if bias is None:
        bias = np.zeros((2, g) if two_biases else (g,), np.float32)
    W, U, B, S = f"{name}_W", f"{name}_U", f"{name}_B", f"{name}_S"
    head = f"static void {name}_step(float *restrict h, float *restrict c, const float *restrict x) {{\n  int j, k;\n"
    if two_biases:  # GRU reset_after=True: hh = act(x_h + r * (h @ U_h + rb_h)); two sums, two scales
        data, fw = em.weights(S, (W, kernel))
        more, fu = em.weights(f"{name}_SU", (U, rkernel))
        data += more + em.bias(B, bias[0], fw) + em.bias(f"{name}_RB", bias[1], fu)
        body = f"  float z[{g}], r[{g}];\n  (void)c;\n"
        body += f"  for (j = 0; j < {g}; ++j) {{\n    z[j] = {B}[j];\n    r[j] = {name}_RB[j];\n  }}\n"
        body += em.matvec("z", "x", n, W, g, g) + em.matvec("r", "h", u, U, g, g)
        body += em.rescale("z", g, S) + em.rescale("r", g, f"{name}_SU")
        body += f"  for (j = 0; j < {2 * u}; ++j) z[j] += r[j];\n"
        body += apply(ract, "z", u) + apply(ract, f"z + {u}", u)
        body += f"  for (j = 0; j < {u}; ++j) z[{2 * u} + j] += z[{u} + j] * r[{2 * u} + j];\n"
        return data, head + body + apply(act, f"z + {2 * u}", u) + _gru_update(u) + "}\n"
    data, factor = em.weights(S, (W, kernel), (U, rkernel))
    data += em.bias(B, bias, factor)
    body = f"  float z[{g}];\n" + ("" if kind == "lstm" else "  (void)c;\n")
    body += f"  for (j = 0; j < {g}; ++j) z[j] = {B}[j];\n" + em.matvec("z", "x", n, W, g, g)
    if kind == "simple_rnn":
        body += em.matvec("z", "h", u, U, g, g) + em.rescale("z", g, S) + apply(act, "z", u)
        body += f"  for (j = 0; j < {u}; ++j) h[j] = z[j];\n"
    elif kind == "lstm":
        body += em.matvec("z", "h", u, U, g, g) + em.rescale("z", g, S)
        body += apply(ract, "z", u) + apply(ract, f"z + {u}", u) + apply(act, f"z + {2 * u}", u)
        body += apply(ract, f"z + {3 * u}", u)
        body += f"  for (j = 0; j < {u}; ++j) {{\n    c[j] = z[{u} + j] * c[j] + z[j] * z[{2 * u} + j];\n"
        body += f"    z[{2 * u} + j] = c[j];\n  }}\n" + apply(act, f"z + {2 * u}", u)
        body += f"  for (j = 0; j < {u}; ++j) h[j] = z[{3 * u} + j] * z[{2 * u} + j];\n"
    else:  # GRU reset_after=False: hh = act(x_h + (r * h) @ U_h)
        body = body.replace(f"  float z[{g}];\n", f"  float z[{g}], rh[{u}];\n")
        body += em.matvec("z", "h", u, U, 2 * u, g) + em.rescale("z", 2 * u, S)
        body += apply(ract, "z", u) + apply(ract, f"z + {u}", u)
        body += f"  for (j = 0; j < {u}; ++j) rh[j] = z[{u} + j] * h[j];\n"
        body += em.matvec(f"(z + {2 * u})", "rh", u, U, u, g, at=2 * u) + em.rescale("z", u, S, at=2 * u)
        body += apply(act, f"z + {2 * u}", u) + _gru_update(u)
    return data, head + body + "}\n"


def _gru_update(u: int) -> str:
    return f"  for (j = 0; j < {u}; ++j) h[j] = z[j] * h[j] + (1.0f - z[j]) * z[{2 * u} + j];\n"


def dense(em: Emitter, name: str, rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> tuple[str, str]:
    """(weights, function) of a Dense layer: `name_apply(x, y)` writes y = act(x @ W + b)."""
    kernel = arrays[rec["kernel"]]
    n, m = (int(s) for s in kernel.shape)
    bias = arrays[rec["bias"]] if rec.get("bias") else np.zeros(m, np.float32)
    data, factor = em.weights(f"{name}_S", (f"{name}_W", kernel))
    data += em.bias(f"{name}_B", bias, factor)
    body = f"static void {name}_apply(const float *restrict x, float *restrict y) {{\n  int j, k;\n"
    body += f"  for (j = 0; j < {m}; ++j) y[j] = {name}_B[j];\n" + em.matvec("y", "x", n, f"{name}_W", m, m)
    return data, body + em.rescale("y", m, f"{name}_S") + apply(rec["activation"], "y", m) + "}\n"


def multiply_adds(rec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> int:
    """Multiply-adds of one step of a recurrent layer, or one application of a Dense layer."""
    kernel = arrays[rec["kernel"]]
    macs = int(kernel.size)
    if rec["kind"] != "dense":
        macs += int(arrays[rec["recurrent_kernel"]].size)
    return macs
