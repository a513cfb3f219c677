"""The Keras layer equations in numpy, for the numpy backend (runtime/backends/numpy_ref.py).

Each layer is built from its record in the artifact's spec and its float32 arrays, checks their
shapes once, and then maps (batch, time, features) or (batch, features) arrays. Gate orders are
Keras's: LSTM i,f,c,o (reordered to i,f,o,c at load so the three sigmoid gates are one slice), GRU
z,r,h; GRU with reset_after=True has separate input and recurrent biases. Initial states are zeros, or
the tensors a layer called with initial_state= takes (runtime/numpy_graph.py feeds them).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .errors import ModelLoadError, UnsupportedModelError

MERGE_MODES = ("concat", "sum", "ave", "mul")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The tanh form cannot overflow (exp(-x) does for x < -88 in float32) and is as accurate in abs terms.
    return 0.5 * np.tanh(0.5 * x) + 0.5


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# Keras 3 activation names -> numpy functions (keras/src/activations; hard_sigmoid is relu6(x+3)/6).
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x / np.float32(6) + np.float32(0.5), 0, 1),
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: (
        np.float32(1.0507009873554805) * np.where(x > 0, x, np.float32(1.6732632423543772) * np.expm1(np.minimum(x, 0)))
    ),
    "softplus": lambda x: np.logaddexp(x, np.float32(0)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "exponential": np.exp,
    "softmax": _softmax,
}
RNN_KINDS = {"simple_rnn": 1, "lstm": 4, "gru": 3}  # kind -> gates per unit


def activation(name: Any, where: str) -> Callable[[np.ndarray], np.ndarray]:
    """The numpy function of a Keras activation name; UnsupportedModelError names the known ones."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise UnsupportedModelError(
            f"{where}: activation {name!r} is not implemented by the numpy backend; expected one of "
            f"{sorted(ACTIVATIONS)}. Use one of those, or export without the 'numpy' format."
        )
    return ACTIVATIONS[name]


class Weights:
    """The npz arrays, fetched by name with shape checks that raise ModelLoadError."""

    def __init__(self, arrays: dict[str, np.ndarray], file: str) -> None:
        self.arrays, self.file = arrays, file

    def get(self, key: Any, shape: tuple[int, ...]) -> np.ndarray:
        arr = self.arrays.get(key) if isinstance(key, str) else None
        if arr is None:
            raise ModelLoadError(f"{self.file}: the spec names array {key!r}, which the file lacks; re-export.")
        if arr.shape != shape or arr.dtype.kind != "f":
            raise ModelLoadError(
                f"{self.file}: array {key!r} is {arr.dtype} {arr.shape}; expected float {shape}. Re-export the bundle."
            )
        return np.ascontiguousarray(arr, dtype=np.float32)


class Recurrent:
    """One SimpleRNN, LSTM or GRU layer (zero initial state)."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        n_in = _width(shape, where, rank=2)
        kind, units = (rec.get("kind"), rec.get("units")) if isinstance(rec, dict) else (None, None)
        if kind not in RNN_KINDS or not isinstance(units, int) or units <= 0:
            raise ModelLoadError(
                f"{where}: expected an RNN kind in {sorted(RNN_KINDS)} with positive units, got {rec!r}."
            )
        g = RNN_KINDS[kind]
        self.kind, self.units = kind, units
        self.act = activation(rec.get("activation", "tanh"), where)
        self.ract = activation(rec.get("recurrent_activation", "sigmoid"), where)
        self.return_sequences = bool(rec.get("return_sequences", False))
        self.go_backwards = bool(rec.get("go_backwards", False))
        self.zero_masked = bool(rec.get("zero_output_for_mask", False))  # Bidirectional sets it with sequences
        self.reset_after = kind == "gru" and bool(rec.get("reset_after", True))
        self.kernel = w.get(rec.get("kernel"), (n_in, g * units))
        self.rkernel = w.get(rec.get("recurrent_kernel"), (units, g * units))
        bias_shape = (2, g * units) if self.reset_after else (g * units,)
        bias = w.get(rec["bias"], bias_shape) if rec.get("bias") else np.zeros(bias_shape, np.float32)
        self.bias, self.rbias = (bias[0], bias[1]) if self.reset_after else (bias, None)
        if kind == "lstm":  # i,f,c,o -> i,f,o,c: the three sigmoid gates become one slice, one call
            order = np.r_[0 : 2 * units, 3 * units : 4 * units, 2 * units : 3 * units]
            self.kernel, self.rkernel, self.bias = self.kernel[:, order], self.rkernel[:, order], self.bias[order]
        if kind == "gru" and not self.reset_after:  # contiguous z,r and h blocks for the two matmuls
            self.rk_zr = np.ascontiguousarray(self.rkernel[:, : 2 * units])
            self.rk_h = np.ascontiguousarray(self.rkernel[:, 2 * units :])
        self._step = {"simple_rnn": self._simple, "lstm": self._lstm, "gru": self._gru}[kind]
        self.out_shape = (shape[0], units) if self.return_sequences else (units,)

    takes_mask = True

    def __call__(self, x: np.ndarray, mask: np.ndarray | None = None, initial: list | None = None) -> np.ndarray:
        if self.go_backwards:  # Keras returns the sequence in processing order (Bidirectional flips it back)
            x, mask = x[:, ::-1], None if mask is None else mask[:, ::-1]
        xw = x @ self.kernel + self.bias  # all input projections in one matmul
        step = self._step
        h = np.zeros((x.shape[0], self.units), np.float32) if initial is None else initial[0]
        c = initial[1] if initial is not None and self.kind == "lstm" else np.zeros_like(h)
        outs = []
        for t in range(x.shape[1]):
            if mask is None:
                h, c = step(xw[:, t], h, c)
                outs.append(h)
                continue
            keep = mask[:, t, None]  # a masked step keeps the state; its output is the last one (or zeros)
            h_new, c_new = step(xw[:, t], h, c)
            h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
            outs.append(np.where(keep, h, np.float32(0)) if self.zero_masked else h)
        return np.stack(outs, axis=1) if self.return_sequences else h

    @property
    def can_step(self) -> bool:
        return not self.go_backwards  # a reversed layer reads the window last sample first

    @property
    def state_widths(self) -> tuple[int, ...]:
        """The state tensors a step carries: h, and c for LSTM (Keras's order)."""
        return (self.units, self.units) if self.kind == "lstm" else (self.units,)

    def step(self, x_t: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One time step from (batch, features) and the states -> (output, next states)."""
        if self.go_backwards:
            raise UnsupportedModelError("a go_backwards layer reads the window last sample first; it cannot step.")
        c = states[1] if self.kind == "lstm" else None
        h, c = self._step(x_t @ self.kernel + self.bias, states[0], c)
        return h, ([h, c] if self.kind == "lstm" else [h])

    def _simple(self, xw, h, c):
        return self.act(xw + h @ self.rkernel), c

    def _lstm(self, xw, h, c):
        u = self.units
        z = xw + h @ self.rkernel
        ifo = self.ract(z[:, : 3 * u])  # gates reordered at load: i, f, o, then the candidate c
        c = ifo[:, u : 2 * u] * c + ifo[:, :u] * self.act(z[:, 3 * u :])
        return ifo[:, 2 * u :] * self.act(c), c

    def _gru(self, xw, h, c):
        u = self.units
        if self.reset_after:
            hr = h @ self.rkernel + self.rbias
            zr = self.ract(xw[:, : 2 * u] + hr[:, : 2 * u])
            hh = self.act(xw[:, 2 * u :] + zr[:, u:] * hr[:, 2 * u :])
        else:
            zr = self.ract(xw[:, : 2 * u] + h @ self.rk_zr)
            hh = self.act(xw[:, 2 * u :] + (zr[:, u:] * h) @ self.rk_h)
        z = zr[:, :u]
        return z * h + (1 - z) * hh, c


class Bidirectional:
    """A forward and a backward recurrent layer, merged as Keras merges them."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        self.merge = rec.get("merge_mode")
        if self.merge not in MERGE_MODES:
            raise UnsupportedModelError(
                f"{where}: Bidirectional merge_mode {self.merge!r} is not supported; expected one of {MERGE_MODES} "
                "(merge_mode=None returns two outputs, and edgernn models have one)."
            )
        self.fwd = Recurrent(rec.get("forward", {}), shape, w, f"{where} forward")
        self.bwd = Recurrent(rec.get("backward", {}), shape, w, f"{where} backward")
        if self.fwd.return_sequences != self.bwd.return_sequences or self.fwd.units != self.bwd.units:
            raise ModelLoadError(
                f"{where}: forward and backward layers differ in units or return_sequences; re-export."
            )
        self.return_sequences = self.fwd.return_sequences
        self.out_shape = (*self.fwd.out_shape[:-1], self.fwd.units * (2 if self.merge == "concat" else 1))

    state_widths = ()

    can_step = False  # the backward half starts at the last sample of the window

    def step(self, x_t, states):
        raise UnsupportedModelError("a Bidirectional layer needs the whole window, so it cannot step.")

    takes_mask = True

    def __call__(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        y, y_rev = self.fwd(x, mask), self.bwd(x, mask)
        if self.fwd.return_sequences:
            y_rev = y_rev[:, ::-1]
        if self.merge == "concat":
            return np.concatenate([y, y_rev], axis=-1)
        if self.merge == "sum":
            return y + y_rev
        if self.merge == "ave":
            return (y + y_rev) / np.float32(2)
        return y * y_rev


class Dense:
    """kernel (in, units), optional bias, activation; applied on the last axis (per step for sequences)."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        n_in, units = _width(shape, where), rec.get("units")
        if not isinstance(units, int) or units <= 0:
            raise ModelLoadError(f"{where}: Dense needs positive integer units, got {units!r}.")
        self.kernel = w.get(rec.get("kernel"), (n_in, units))
        self.bias = w.get(rec["bias"], (units,)) if rec.get("bias") else None
        self.act = activation(rec.get("activation", "linear"), where)
        self.out_shape = (*shape[:-1], units)

    state_widths = ()
    can_step = True

    def step(self, x_t: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        return self(x_t), []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.kernel
        return self.act(y if self.bias is None else y + self.bias)


class Identity:
    """Dropout, noise and regularization layers: the identity at inference."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        self.out_shape = shape

    state_widths = ()
    can_step = True

    def step(self, x_t: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        return x_t, []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x


IDENTITY_KINDS = ("dropout", "gaussian_noise", "gaussian_dropout", "alpha_dropout", "spatial_dropout1d", "identity")
LAYERS = {
    "simple_rnn": Recurrent,
    "lstm": Recurrent,
    "gru": Recurrent,
    "bidirectional": Bidirectional,
    "dense": Dense,
    **{kind: Identity for kind in IDENTITY_KINDS},
}


def _width(shape: tuple, where: str, rank: int | None = None) -> int:
    if not shape or not isinstance(shape[-1], int) or (rank and len(shape) != rank):
        raise ModelLoadError(f"{where}: its input (batch, *{shape}) is not what the layer takes; re-export.")
    return shape[-1]


def input_width(records: list, arrays: dict[str, np.ndarray]) -> int:
    """Features the first layer with a kernel takes (a step model is opened without the manifest's spec)."""
    for rec in records:
        rec = rec.get("forward", rec) if isinstance(rec, dict) else {}
        kernel = arrays.get(rec.get("kernel")) if isinstance(rec.get("kernel"), str) else None
        if kernel is not None and kernel.ndim == 2:
            return int(kernel.shape[0])
    raise ModelLoadError("the numpy spec has no layer with a kernel; re-export the bundle.")
