"""Keras -> `model.npz`: the weights and layer list that the numpy backend runs.

The file holds a JSON `spec` string (version, and per layer its kind, units, activations and
options, naming its arrays) and one float32 array per weight, exactly as Keras stores them (kernel
gate orders LSTM i,f,c,o and GRU z,r,h; GRU reset_after=True keeps the (2, 3*units) input and
recurrent biases). No pickles: the runtime reads it with allow_pickle=False.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.runtime.backends.numpy_ref import SPEC_KEY, SPEC_VERSION
from edgernn.runtime.manifest import ArtifactEntry
from edgernn.runtime.numpy_layers import ACTIVATIONS, MERGE_MODES

from ...model_info import RNN_CLASSES, ModelInfo, UnsupportedLayerError
from ..base import REFERENCE, GraphForm

REASON = "Keras equations in numpy from the stored weights (no native runtime)"


def _check_activation(name: Any, where: str) -> str:
    if name not in ACTIVATIONS:
        raise UnsupportedLayerError(
            f"{where}: activation {name!r} has no numpy implementation (known: {sorted(ACTIVATIONS)}). "
            "Use one of those, or export without the 'numpy' format (--formats tflite,onnx)."
        )
    return name


def _recurrent(layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    cfg = layer.get_config()
    kind = RNN_CLASSES[type(layer).__name__]
    where = f"layer {layer.name!r}"
    rec = {
        "kind": kind,
        "units": int(cfg["units"]),
        "activation": _check_activation(cfg.get("activation", "tanh"), where),
        "return_sequences": bool(cfg.get("return_sequences", False)),
        "go_backwards": bool(cfg.get("go_backwards", False)),
    }
    if kind != "simple_rnn":
        rec["recurrent_activation"] = _check_activation(cfg.get("recurrent_activation", "sigmoid"), where)
    if kind == "gru":
        rec["reset_after"] = bool(cfg.get("reset_after", True))
    weights = layer.get_weights()
    names = ["kernel", "recurrent_kernel"] + (["bias"] if cfg.get("use_bias", True) else [])
    if len(weights) != len(names):
        raise UnsupportedLayerError(f"{where}: expected weights {names}, found {len(weights)} arrays.")
    for key, value in zip(names, weights):
        rec[key] = f"{prefix}/{key}"
        arrays[rec[key]] = np.asarray(value, dtype=np.float32)
    return rec


def _dense(layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    cfg = layer.get_config()
    rec = {
        "kind": "dense",
        "units": int(cfg["units"]),
        "activation": _check_activation(cfg.get("activation", "linear"), f"layer {layer.name!r}"),
    }
    weights = layer.get_weights()
    names = ["kernel"] + (["bias"] if cfg.get("use_bias", True) else [])
    for key, value in zip(names, weights):
        rec[key] = f"{prefix}/{key}"
        arrays[rec[key]] = np.asarray(value, dtype=np.float32)
    return rec


def describe(model) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The numpy spec's layer list and the weight arrays, for a model that passed inspect_model."""
    layers: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(model.layers):
        cls, prefix = type(layer).__name__, f"{i}_{layer.name}"
        if cls == "InputLayer":
            continue
        if cls == "Dropout":
            layers.append({"kind": "dropout"})
        elif cls == "Dense":
            layers.append(_dense(layer, prefix, arrays))
        elif cls in RNN_CLASSES:
            layers.append(_recurrent(layer, prefix, arrays))
        elif cls == "Bidirectional":
            merge = layer.get_config().get("merge_mode")
            if merge not in MERGE_MODES:
                raise UnsupportedLayerError(
                    f"layer {layer.name!r}: Bidirectional merge_mode {merge!r}; expected one of {MERGE_MODES}."
                )
            layers.append(
                {
                    "kind": "bidirectional",
                    "merge_mode": merge,
                    "forward": _recurrent(layer.forward_layer, f"{prefix}/forward", arrays),
                    "backward": _recurrent(layer.backward_layer, f"{prefix}/backward", arrays),
                }
            )
        else:
            raise UnsupportedLayerError(f"layer {layer.name!r} ({cls}) has no numpy implementation.")
    return layers, arrays


def write(model, path: Path, info: ModelInfo, form: GraphForm) -> ArtifactEntry:
    """Write the model's layer list and float32 weights as an .npz for the numpy backend."""
    layers, arrays = describe(model)
    spec = {"version": SPEC_VERSION, "timesteps": info.timesteps, "layers": layers}
    with open(path, "wb") as fh:  # a file object keeps np.savez from appending '.npz' to the name
        np.savez(fh, **{SPEC_KEY: np.array(json.dumps(spec))}, **arrays)
    kinds = collections.Counter(rec["kind"] for rec in layers)
    entry = ArtifactEntry(
        file=Path(path).name, format="numpy", graph_form=form.name, graph_form_reason=form.reason, ops=dict(kinds)
    )
    return entry.with_(arrays=len(arrays), spec_version=SPEC_VERSION)


def forms(info: ModelInfo) -> list[GraphForm]:
    """One form: the reference equations."""
    return [GraphForm(REFERENCE, REASON)]
