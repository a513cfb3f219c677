"""Fold the bundle's unit maps into the weights, so every artifact takes and returns raw units.

    x_model = (x_raw - offset) * scale   ->  the first layer's kernel rows scaled, its input bias shifted
    y_raw = y_model / scale + offset      ->  the last Dense layer's columns scaled, its bias mapped

Both are exact algebra on a linear term (x @ K + b, h @ W + b), per channel. The folded Keras model
is what every format, variant and step model is converted from; the manifest records
`preprocessing.folded` and keeps the original mapping. Where folding cannot be exact (no input
bias to absorb an offset, a head that is not a linear Dense) or float32 rounding of the folded
weights moves the outputs, the original model is exported and the Python maps stay, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgernn.runtime.compare import tolerance
from edgernn.runtime.manifest import Spec

from .heads import keras_outputs
from .model_info import RNN_CLASSES, clone_with

ROUNDING_SHARE = 0.25  # folding may use at most this share of the float32 tolerance


@dataclass(frozen=True)
class Folding:
    """The model to convert, whether it takes raw units, and why not when it does not."""

    model: Any
    folded: bool
    reason: str = ""


FOLDABLE_FIRST = (*RNN_CLASSES, "Bidirectional", "Dense")
PASS_THROUGH = ("InputLayer", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D")


def _weighted(model) -> list[Any]:
    return [layer for layer in model.layers if layer.weights]


def _unfoldable(model) -> str:
    """Why the maps cannot go into the end layers' weights: '' when the input reaches a linear first layer
    unchanged (no Masking, Conv1D, normalization before it) and the model is a chain."""
    layers = [layer for layer in model.layers if type(layer).__name__ not in PASS_THROUGH]
    if len(model.inputs) != 1 or any(len(node.input_tensors) != 1 for lay in layers for node in lay._inbound_nodes):
        return "the model is not a chain of single-input layers"
    if not layers or type(layers[0]).__name__ not in FOLDABLE_FIRST:
        first = type(layers[0]).__name__ if layers else "none"
        return f"the first layer ({first}) is not a recurrent or Dense layer whose kernel can absorb the input map"
    if _weighted(model)[-1] is not layers[-1]:
        return f"the last layer {layers[-1].name!r} has no weights to absorb the output map"
    return ""


def _fold_input(layer, offset: np.ndarray, scale: np.ndarray) -> str:
    """Fold the input map into `layer` (each half of a Bidirectional); '' or why it cannot."""
    halves = (layer.forward_layer, layer.backward_layer) if type(layer).__name__ == "Bidirectional" else (layer,)
    for half in halves:
        weights = [np.asarray(w, np.float64) for w in half.get_weights()]
        kernel = weights[0]
        # one offset/scale for every feature is a (1,) array: spread it over the kernel's rows
        offset, scale = np.broadcast_to(offset, kernel.shape[:1]), np.broadcast_to(scale, kernel.shape[:1])
        shift = (offset * scale) @ kernel  # what (x - offset) * scale adds to x * scale @ K
        has_bias = len(weights) == (3 if type(half).__name__ in RNN_CLASSES else 2)
        if not has_bias and np.any(shift != 0):
            return f"layer {half.name!r} has no bias to absorb the input offset"
        weights[0] = kernel * scale[:, None]
        if has_bias:
            bias = weights[-1]
            if bias.ndim == 2:  # GRU reset_after=True: row 0 is the input bias
                bias[0] -= shift
            else:
                bias -= shift
        half.set_weights([w.astype(np.float32) for w in weights])
    return ""


def _fold_output(layer, offset: np.ndarray, scale: np.ndarray) -> str:
    if type(layer).__name__ != "Dense" or layer.get_config().get("activation") != "linear":
        return f"the last layer {layer.name!r} is not a linear Dense, so the output map is not a weight change"
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    if len(weights) == 1 and np.any(offset != 0):
        return f"the last layer {layer.name!r} has no bias to absorb the output offset"
    weights[0] = weights[0] / scale[None, :]
    if len(weights) == 2:
        weights[1] = weights[1] / scale + offset
    layer.set_weights([w.astype(np.float32) for w in weights])
    return ""


def _rounding(model, folded, spec: Spec, inputs: np.ndarray) -> float:
    """Max abs difference (model units) between the folded model fed raw units and the original."""
    want = np.asarray(keras_outputs(model, inputs), np.float64)
    raw = spec.x.to_raw(inputs).astype(np.float32)
    got = spec.y.to_model(keras_outputs(folded, raw)).astype(np.float64)
    return float(np.max(np.abs(got - want))) if want.size else 0.0


def fold(model, spec: Spec, inputs: np.ndarray) -> Folding:
    """The model with the unit maps folded into its weights, or the model itself and the reason.

    Args:
        spec: the bundle's shapes and (unfolded) preprocessing.
        inputs: model-unit windows on which the folded model must match the original.
    """
    if spec.x.identity and spec.y.identity:
        return Folding(model, True)
    if spec.inputs:  # a map per input, packed (runtime/inputs.py): applied by the Predictor, as for token ids
        return Folding(
            model,
            False,
            "several inputs: their maps are applied in Python (folding a map per input "
            "into the layers each input reaches is not implemented)",
        )
    if spec.tokens:  # ids take no input map; the output map could fold, but is kept in Python (tested path)
        return Folding(model, False, "token-id inputs take no input map; the output map is applied in Python")
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731 - the maps' values, at full precision
    folded = clone_with(model)
    clone_layers = _weighted(folded)
    reason = _unfoldable(folded)
    if not reason and not spec.x.identity:
        reason = _fold_input(clone_layers[0], f64(spec.x.offset), f64(spec.x.scale))
    if not reason and not spec.y.identity:
        reason = _fold_output(clone_layers[-1], f64(spec.y.offset), f64(spec.y.scale))
    if not reason:
        err, limit = _rounding(model, folded, spec, inputs), ROUNDING_SHARE * tolerance("tflite", "float32")
        if err > limit:
            reason = f"float32 rounding of the folded weights moves the outputs by {err:.3g} (> {limit:.3g})"
    return Folding(model, False, reason) if reason else Folding(folded, True)
