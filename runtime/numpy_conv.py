"""Conv1D and the 1-D pooling layers in numpy (channels_last), as Keras's TensorFlow backend computes them.

Padding follows TensorFlow: `same` pads (out-1)*stride + span - T in total, the smaller half before;
`causal` pads span-1 before (span = dilation*(kernel-1)+1). Average pooling over `same` padding
averages the real samples only, max pooling ignores the padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ModelLoadError
from .numpy_layers import Weights, activation


def _ints(rec: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = rec.get(key, default)
    value = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ModelLoadError(f"{where}: {key} must be a positive integer, got {value!r}; re-export the bundle.")
    return value


def _sequence(shape: tuple, where: str) -> tuple[Any, int]:
    if len(shape) != 2:
        raise ModelLoadError(f"{where}: expects (batch, timesteps, channels), its input is (batch, *{shape}).")
    return shape


def _out_len(steps: int | None, span: int, stride: int, padding: str) -> int | None:
    if steps is None:
        return None
    return -(-steps // stride) if padding in ("same", "causal") else max((steps - span) // stride + 1, 0)


def _pads(steps: int, span: int, stride: int, padding: str) -> tuple[int, int]:
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        total = max((-(-steps // stride) - 1) * stride + span - steps, 0)
        return total // 2, total - total // 2
    return 0, 0


class Conv1D:
    """kernel (kernel_size, channels, filters), optional bias, activation; strides and dilation."""

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        steps, channels = _sequence(shape, where)
        self.size, self.stride = _ints(rec, "kernel_size", where), _ints(rec, "strides", where, 1)
        self.dilation, filters = _ints(rec, "dilation_rate", where, 1), _ints(rec, "filters", where)
        self.padding = rec.get("padding", "valid")
        if self.padding not in ("valid", "same", "causal") or (self.padding == "causal" and self.stride != 1):
            raise ModelLoadError(f"{where}: padding {self.padding!r} with strides {self.stride} is not supported.")
        self.kernel = w.get(rec.get("kernel"), (self.size, channels, filters))
        self.bias = w.get(rec["bias"], (filters,)) if rec.get("bias") else None
        self.act = activation(rec.get("activation", "linear"), where)
        self.span = self.dilation * (self.size - 1) + 1
        self.out_shape = (_out_len(steps, self.span, self.stride, self.padding), filters)
        # A causal stride-1 convolution steps: its state is the last span - 1 input samples (zeros at start).
        self.can_step = self.padding == "causal" and self.stride == 1
        self.state_widths = ((self.span - 1) * channels,) if self.can_step and self.span > 1 else ()

    def step(self, x_t: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        channels = self.kernel.shape[1]
        window = x_t[:, None, :]
        if self.state_widths:
            window = np.concatenate([states[0].reshape(len(x_t), self.span - 1, channels), window], axis=1)
        y = sum(window[:, j * self.dilation] @ self.kernel[j] for j in range(self.size))
        y = self.act(y if self.bias is None else y + self.bias).astype(np.float32)
        return y, ([window[:, 1:].reshape(len(x_t), -1)] if self.state_widths else [])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        before, after = _pads(x.shape[1], self.span, self.stride, self.padding)
        if before or after:
            x = np.pad(x, ((0, 0), (before, after), (0, 0)))
        out = (x.shape[1] - self.span) // self.stride + 1
        y = np.zeros((x.shape[0], max(out, 0), self.kernel.shape[2]), np.float32)
        for j in range(self.size):  # one matmul per kernel tap
            start = j * self.dilation
            y += x[:, start : start + (out - 1) * self.stride + 1 : self.stride] @ self.kernel[j]
        return self.act(y if self.bias is None else y + self.bias)


class Pool1D:
    """MaxPooling1D / AveragePooling1D: pool_size, strides (default pool_size), valid or same padding."""

    can_step = False  # a window over time
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        steps, channels = _sequence(shape, where)
        self.size = _ints(rec, "pool_size", where)
        self.stride = _ints(rec, "strides", where, self.size) if rec.get("strides") else self.size
        self.padding = rec.get("padding", "valid")
        if self.padding not in ("valid", "same"):
            raise ModelLoadError(f"{where}: pooling padding {self.padding!r}; expected 'valid' or 'same'.")
        self.reduce = np.max if rec.get("kind") == "max_pool1d" else np.mean
        self.out_shape = (_out_len(steps, self.size, self.stride, self.padding), channels)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        steps = x.shape[1]
        before, _ = _pads(steps, self.size, self.stride, self.padding)
        out = _out_len(steps, self.size, self.stride, self.padding)
        cols = []
        for t in range(out):
            lo = t * self.stride - before
            cols.append(self.reduce(x[:, max(lo, 0) : min(lo + self.size, steps)], axis=1))
        return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((x.shape[0], 0, x.shape[2]), np.float32)


class GlobalPool1D:
    """GlobalMaxPooling1D / GlobalAveragePooling1D over time (keepdims as Keras)."""

    can_step = False
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        _, channels = _sequence(shape, where)
        self.keepdims = bool(rec.get("keepdims", False))
        self.reduce = np.max if rec.get("kind") == "global_max_pool1d" else np.mean
        self.out_shape = (1, channels) if self.keepdims else (channels,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.reduce(x, axis=1, keepdims=self.keepdims).astype(np.float32)


LAYERS = {
    "conv1d": Conv1D,
    "max_pool1d": Pool1D,
    "avg_pool1d": Pool1D,
    "global_max_pool1d": GlobalPool1D,
    "global_avg_pool1d": GlobalPool1D,
}
