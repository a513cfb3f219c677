"""What the exporters accept: the layer whitelist, static shapes, and the model's description."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from edgernn.runtime.errors import ExportError, UnsupportedModelError

RNN_CLASSES = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
PLAIN_CLASSES = ("InputLayer", "Dense", "Dropout")


class UnsupportedLayerError(ExportError, UnsupportedModelError):
    """A layer or option the exporters refuse; an ExportError and an UnsupportedModelError."""


@dataclass(frozen=True)
class ModelInfo:
    """The facts about a Keras model that the exporters and the manifest need."""

    timesteps: int
    features: int
    outputs: int
    sequence_output: bool
    cells: tuple[str, ...]  # one per recurrent layer, first to last
    bidirectional: bool
    layers: tuple[dict[str, Any], ...]
    trainable_params: int

    @property
    def cell(self) -> str:
        kinds = sorted(set(self.cells))
        return kinds[0] if len(kinds) == 1 else "+".join(kinds)


def _rnn_problem(layer, where: str) -> str | None:
    cfg = layer.get_config()
    if cfg.get("stateful"):
        return (
            f"{where} has stateful=True, which TFLite and ONNX cannot carry between calls. Rebuild it with "
            "stateful=False and export with --streaming to get a step model whose state you carry."
        )
    if cfg.get("return_state"):
        return f"{where} has return_state=True; export a model whose only output is the prediction."
    return None


def describe_layer(layer) -> dict[str, Any]:
    cls = type(layer).__name__
    entry: dict[str, Any] = {"class": cls, "name": layer.name}
    cfg = layer.get_config()
    inner = layer.forward_layer if cls == "Bidirectional" else layer
    if cls == "Bidirectional":
        entry["merge_mode"] = cfg.get("merge_mode")
        entry["layer"] = type(inner).__name__
    icfg = inner.get_config()
    for key in (
        "units",
        "return_sequences",
        "activation",
        "recurrent_activation",
        "reset_after",
        "go_backwards",
        "rate",
    ):
        if key in icfg:
            entry[key] = icfg[key]
    return entry


def inspect_model(model) -> ModelInfo:
    """Check that `model` is exportable and describe it.

    Raises:
        UnsupportedLayerError: a layer or option outside the supported set, or several inputs/outputs.
        ExportError: a free time dimension.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedLayerError(
            f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            "edgernn exports models with one input and one output."
        )
    cells, bidirectional, layers = [], False, []
    for layer in model.layers:
        cls, where = type(layer).__name__, f"layer {layer.name!r} ({type(layer).__name__})"
        inner = layer.forward_layer if cls == "Bidirectional" else layer
        inner_cls = type(inner).__name__
        if inner_cls in RNN_CLASSES:
            halves = (inner, layer.backward_layer) if cls == "Bidirectional" else (inner,)
            if any(type(half) is not type(inner) for half in halves):
                raise UnsupportedLayerError(
                    f"{where} has a {type(halves[-1]).__name__} backward layer and a {inner_cls} forward layer; "
                    "edgernn exports a Bidirectional whose two halves are the same cell type."
                )
            problem = next(filter(None, (_rnn_problem(half, where) for half in halves)), None)
            if problem:
                raise UnsupportedLayerError(problem)
            cells.append(RNN_CLASSES[inner_cls])
            bidirectional |= cls == "Bidirectional"
        elif cls not in PLAIN_CLASSES:
            raise UnsupportedLayerError(
                f"{where} is not supported; edgernn exports InputLayer, SimpleRNN, LSTM, GRU, "
                "Bidirectional of those, Dense and Dropout. Replace or remove that layer."
            )
        layers.append(describe_layer(layer))
    if not cells:
        raise UnsupportedLayerError(f"model {model.name!r} has no SimpleRNN, LSTM or GRU layer.")
    in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if len(in_shape) != 3:
        raise UnsupportedLayerError(f"model input has shape {in_shape}; expected (batch, timesteps, features).")
    if in_shape[1] is None or in_shape[2] is None:
        raise ExportError(
            f"model input shape {in_shape} has a free time or feature dimension; edgernn needs a static "
            "sequence length for recurrent layers. Rebuild the model with keras.Input((timesteps, features))."
        )
    return ModelInfo(
        timesteps=int(in_shape[1]),
        features=int(in_shape[2]),
        outputs=int(out_shape[-1]),
        sequence_output=len(out_shape) == 3,
        cells=tuple(cells),
        bidirectional=bidirectional,
        layers=tuple(layers),
        trainable_params=int(sum(int(w.numpy().size) for w in model.trainable_weights)),
    )


def _patch_config(node: Any, rnn: dict[str, Any], batch: int | None, free_time: bool) -> None:
    if isinstance(node, dict):
        cls, cfg = node.get("class_name"), node.get("config")
        if cls in RNN_CLASSES and isinstance(cfg, dict):
            cfg.update(rnn)
        if cls == "InputLayer" and isinstance(cfg, dict):
            shape = list(cfg["batch_shape"])
            if batch is not None:
                shape[0] = batch
            if free_time:
                shape[1] = None
            cfg["batch_shape"] = shape
        for value in node.values():
            _patch_config(value, rnn, batch, free_time)
    elif isinstance(node, list):
        for value in node:
            _patch_config(value, rnn, batch, free_time)


def clone_with(
    model,
    *,
    unroll: bool | None = None,
    batch: int | None = None,
    return_sequences: bool | None = None,
    free_time: bool = False,
):
    """A clone of `model` with the same weights: its recurrent layers unrolled and/or returning every
    step, its batch fixed, and/or its time axis left free.

    Built from the config (not by wrapping the model in a tf.function), so the converters see
    ordinary Keras variables and freeze them.
    """
    rnn = {k: v for k, v in (("unroll", unroll), ("return_sequences", return_sequences)) if v is not None}
    config = copy.deepcopy(model.get_config())
    _patch_config(config, rnn, batch, free_time)
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone
