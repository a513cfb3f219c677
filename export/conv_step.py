"""A causal Conv1D run one sample at a time for the step models: its state is the last
(kernel_size - 1) * dilation_rate input samples, zeros at the start (the causal padding itself).

Stepping equals the layer on the whole sequence: at step t the causal convolution reads inputs
t - span + 1 .. t (span = dilation * (kernel - 1) + 1), which are the buffer and the new sample.
"""

from __future__ import annotations

from typing import Any

from edgernn.runtime.errors import ExportError


def conv_problem(layer) -> str:
    """Why a Conv1D cannot step ('' when it can): only a causal convolution with stride 1 reads no future sample."""
    cfg = layer.get_config()
    strides = cfg.get("strides", (1,))
    if cfg.get("padding") != "causal" or tuple(strides) != (1,) or cfg.get("groups", 1) != 1:
        return (
            f"layer {layer.name!r} (Conv1D) has padding={cfg.get('padding')!r}, strides={tuple(strides)}: its output "
            "at step t reads later samples (or skips steps), so it cannot stream. Only padding='causal' with "
            "strides=1 streams; export it without --streaming."
        )
    return ""


def span(layer) -> int:
    cfg = layer.get_config()
    return int(cfg["dilation_rate"][0]) * (int(cfg["kernel_size"][0]) - 1) + 1


def buffer_width(layer) -> int:
    """Floats of the state: the last span - 1 samples of the layer's input channels."""
    return (span(layer) - 1) * int(layer.kernel.shape[1])


def conv_step_class():
    import keras

    class ConvStep(keras.layers.Layer):
        """The trained Conv1D's kernel over [buffer, x_t]: one output sample, and the buffer shifted by one."""

        def __init__(self, conv, **kwargs: Any):
            super().__init__(**kwargs)
            self.conv = conv  # the trained layer: its weights, no copy
            self.span, self.channels = span(conv), int(conv.kernel.shape[1])

        def call(self, x, buffer=None):
            ops = keras.ops
            sample = ops.expand_dims(x, 1)
            window = (
                sample
                if buffer is None
                else ops.concatenate([ops.reshape(buffer, (-1, self.span - 1, self.channels)), sample], axis=1)
            )
            cfg = self.conv.get_config()
            y = ops.conv(window, self.conv.kernel, strides=1, padding="valid", dilation_rate=cfg["dilation_rate"][0])
            y = ops.squeeze(y, 1)
            if self.conv.use_bias:
                y = y + self.conv.bias
            y = keras.activations.get(cfg["activation"])(y)
            if buffer is None:  # kernel_size 1: no state
                return y
            return y, ops.reshape(window[:, 1:], (-1, (self.span - 1) * self.channels))

    return ConvStep


def require_conv_step(layer) -> None:
    problem = conv_problem(layer)
    if problem:
        raise ExportError(problem)
