"""Multiply-adds per window, counted from the layer shapes (the manifest's `compute` block).

A recurrent layer does, per time step, one multiply-add per entry of its kernel (input to gates)
and of its recurrent kernel (state to gates): (features + units) * gates * units, twice for a
Bidirectional. A Dense layer does one per kernel entry, per time step when it maps a sequence.
Biases, activations and gate products are left out: they are O(units), not O(units^2).
`bench` turns this into achieved GFLOP/s (2 FLOPs per multiply-add) beside the machine's sgemm peak.
"""

from __future__ import annotations

from typing import Any

from .model_info import RNN_CLASSES, ModelInfo

COUNTED = (
    "kernel + recurrent kernel entries per step for recurrent layers, kernel entries for Dense "
    "(a free-T model: per window of input.example_timesteps steps)"
)


def _kernel_entries(layer) -> int:
    return sum(int(w.shape[0]) * int(w.shape[1]) for w in layer.weights if len(w.shape) == 2)


def macs_per_window(model, info: ModelInfo) -> int:
    """Multiply-adds one window costs, from the layers' 2-D weights and the window length."""
    total = 0
    for layer in model.layers:
        cls = type(layer).__name__
        inner = type(layer.forward_layer).__name__ if cls == "Bidirectional" else cls
        if inner in RNN_CLASSES:
            total += info.window_steps * _kernel_entries(layer)
        elif cls == "Dense":
            steps = info.window_steps if len(layer.output.shape) == 3 else 1
            total += steps * _kernel_entries(layer)
    return total


def compute_block(model, info: ModelInfo) -> dict[str, Any]:
    return {"macs_per_window": macs_per_window(model, info), "counted": COUNTED}
