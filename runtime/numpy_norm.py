"""Per-feature layers in numpy: BatchNormalization (inference), LayerNormalization, the activation
layers (Activation, ReLU, LeakyReLU, ELU, PReLU, Softmax). Each maps the last axis, so each also
steps one sample at a time (PReLU when its alpha is shared over time).

The arithmetic follows Keras 3 on TensorFlow term by term (tf.nn.batch_normalization:
x * inv + (beta - mean * inv) with inv = rsqrt(var + eps) * gamma; LayerNormalization likewise
with the moments of the last axis), so float32 results agree to rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ModelLoadError
from .numpy_layers import Weights, activation


def _last_axis(rec: dict[str, Any], shape: tuple, where: str) -> int:
    axis = rec.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if axis not in (-1, len(shape)):
        raise ModelLoadError(f"{where}: normalization over axis {axis!r}; the numpy backend normalizes the last axis.")
    return shape[-1]


def _optional(rec: dict[str, Any], key: str, w: Weights, width: int, fill: float) -> np.ndarray:
    return w.get(rec[key], (width,)) if rec.get(key) else np.full((width,), fill, np.float32)


class PerStep:
    """A layer that maps each sample on its own: steps by calling itself."""

    can_step = True
    state_widths = ()

    def step(self, x_t: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        return self(x_t), []


class BatchNorm(PerStep):
    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        width = _last_axis(rec, shape, where)
        mean, var = w.get(rec.get("moving_mean"), (width,)), w.get(rec.get("moving_variance"), (width,))
        gamma, beta = _optional(rec, "gamma", w, width, 1.0), _optional(rec, "beta", w, width, 0.0)
        inv = (1.0 / np.sqrt(var + np.float32(rec.get("epsilon", 1e-3)))).astype(np.float32) * gamma
        self.inv, self.shift, self.out_shape = inv, (beta - mean * inv).astype(np.float32), shape

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.inv + self.shift


class LayerNorm(PerStep):
    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        width = _last_axis(rec, shape, where)
        if rec.get("rms_scaling"):
            raise ModelLoadError(f"{where}: LayerNormalization(rms_scaling=True) is not implemented.")
        self.gamma, self.beta = _optional(rec, "gamma", w, width, 1.0), _optional(rec, "beta", w, width, 0.0)
        self.eps, self.out_shape = np.float32(rec.get("epsilon", 1e-3)), shape

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = np.square(x - mean).mean(axis=-1, keepdims=True)
        inv = (1.0 / np.sqrt(var + self.eps)).astype(np.float32) * self.gamma
        return x * inv + (self.beta - mean * inv)


class Act(PerStep):
    """Activation(name), ReLU(max_value, negative_slope, threshold), LeakyReLU, ELU, Softmax(axis=-1)."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        kind, self.out_shape = rec.get("kind"), shape
        if kind == "activation":
            self.fn = activation(rec.get("activation"), where)
        elif kind in ("relu", "leaky_relu"):
            slope = np.float32(rec.get("negative_slope", 0.3 if kind == "leaky_relu" else 0.0))
            cap, floor = rec.get("max_value"), np.float32(rec.get("threshold", 0.0))
            cap = None if cap is None else np.float32(cap)
            self.fn = lambda x: _relu(x, slope, cap, floor)
        elif kind == "elu":
            alpha = np.float32(rec.get("alpha", 1.0))
            self.fn = lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
        elif kind == "softmax":
            if rec.get("axis", -1) not in (-1, len(shape), [-1]):
                raise ModelLoadError(f"{where}: Softmax over axis {rec.get('axis')!r}; the last axis is implemented.")
            self.fn = activation("softmax", where)
        else:
            raise ModelLoadError(f"{where}: unknown activation layer {kind!r}.")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(x), dtype=np.float32)


def _relu(x: np.ndarray, slope: np.float32, cap: np.float32 | None, floor: np.float32) -> np.ndarray:
    """keras.activations.relu term by term: the part above the threshold, clipped, minus the sloped rest."""
    y = x * (x > floor) if floor else np.maximum(x, 0)
    if cap is not None:
        y = np.clip(y, 0, cap)
    return y - slope * np.maximum(floor - x, 0) if slope else y


class PReLU(PerStep):
    """max(x, 0) - alpha * max(-x, 0), alpha shaped like the input (1 on shared axes)."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        alpha = w.arrays.get(rec.get("alpha")) if isinstance(rec.get("alpha"), str) else None
        if alpha is None or alpha.ndim != len(shape) or any(a not in (1, s) for a, s in zip(alpha.shape, shape)):
            raise ModelLoadError(f"{where}: PReLU alpha must broadcast to (batch, *{shape}); re-export.")
        self.alpha = w.get(rec["alpha"], alpha.shape)
        self.can_step = len(shape) == 1 or alpha.shape[0] == 1  # one alpha for every time step
        self.out_shape = shape

    def __call__(self, x: np.ndarray) -> np.ndarray:
        alpha = self.alpha[0] if x.ndim == 2 and self.alpha.ndim == 2 else self.alpha
        return np.maximum(x, 0) - alpha * np.maximum(-x, 0)


LAYERS = {
    "batch_norm": BatchNorm,
    "layer_norm": LayerNorm,
    "prelu": PReLU,
    **{kind: Act for kind in ("activation", "relu", "leaky_relu", "elu", "softmax")},
}
