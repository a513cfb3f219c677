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

from edgernn.runtime.backends.numpy_ref import GRAPH_VERSION, INPUTS_VERSION, SPEC_KEY, SPEC_VERSION
from edgernn.runtime.manifest import ArtifactEntry
from edgernn.runtime.numpy_layers import MERGE_MODES

from ...model_info import RNN_CLASSES, ModelInfo, UnsupportedLayerError
from ..base import REFERENCE, GraphForm
from .layers import MERGES, check_activation, dense_record, layer_record

REASON = "Keras equations in numpy from the stored weights (no native runtime)"


def _recurrent(layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    cfg = layer.get_config()
    kind = RNN_CLASSES[type(layer).__name__]
    where = f"layer {layer.name!r}"
    rec = {
        "kind": kind,
        "units": int(cfg["units"]),
        "activation": check_activation(cfg.get("activation", "tanh"), where),
        "return_sequences": bool(cfg.get("return_sequences", False)),
        "go_backwards": bool(cfg.get("go_backwards", False)),
    }
    if kind != "simple_rnn":
        rec["recurrent_activation"] = check_activation(cfg.get("recurrent_activation", "sigmoid"), where)
    if kind == "gru":
        rec["reset_after"] = bool(cfg.get("reset_after", True))
    if getattr(layer, "zero_output_for_mask", False):  # set by Bidirectional when it returns sequences
        rec["zero_output_for_mask"] = True
    weights = layer.get_weights()
    names = ["kernel", "recurrent_kernel"] + (["bias"] if cfg.get("use_bias", True) else [])
    if len(weights) != len(names):
        raise UnsupportedLayerError(f"{where}: expected weights {names}, found {len(weights)} arrays.")
    for key, value in zip(names, weights):
        rec[key] = f"{prefix}/{key}"
        arrays[rec[key]] = np.asarray(value, dtype=np.float32)
    return rec


V1_KINDS = ("simple_rnn", "lstm", "gru", "bidirectional", "dense", "dropout")  # what a version-1 reader runs


def _record(layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    cls = type(layer).__name__
    if cls == "Dense":
        return dense_record(layer, prefix, arrays)
    if cls in RNN_CLASSES:
        return _recurrent(layer, prefix, arrays)
    if cls == "Bidirectional":
        merge = layer.get_config().get("merge_mode")
        if merge not in MERGE_MODES:
            raise UnsupportedLayerError(
                f"layer {layer.name!r}: Bidirectional merge_mode {merge!r}; expected one of {MERGE_MODES} (merge_mode "
                "None returns two outputs: the numpy kernels return a layer's main output only)."
            )
        return {
            "kind": "bidirectional",
            "merge_mode": merge,
            "forward": _recurrent(layer.forward_layer, f"{prefix}/forward", arrays),
            "backward": _recurrent(layer.backward_layer, f"{prefix}/backward", arrays),
        }
    return layer_record(layer, prefix, arrays)


def _initial_state(layer, rec: dict[str, Any], ins: list[int]) -> None:
    """Mark a recurrent layer called with initial_state=[h, (c)] (its states follow x in `inputs`), or refuse."""
    states = 2 if rec["kind"] == "lstm" else 1
    if rec["kind"] not in RNN_CLASSES.values() or len(ins) != 1 + states:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} ({type(layer).__name__}) takes {len(ins)} tensors; the numpy kernels take "
            "several only in merges and as a SimpleRNN/LSTM/GRU's initial_state (not a Bidirectional's)."
        )
    rec["initial_state"] = True


def _producer(tensor, index: dict[int, int], where: str) -> int:
    op, k = tensor._keras_history.operation, tensor._keras_history.tensor_index
    if type(op).__name__ == "InputLayer":
        return index.get(id(op), -1)  # input k of several is -1 - k (runtime/numpy_graph.py)
    if k and not (k == 1 and type(op).__name__ in RNN_CLASSES and not op.get_config().get("return_sequences")):
        raise UnsupportedLayerError(  # output 1 of a recurrent layer without sequences is its h: its main output
            f"{where}: its input is output {k} of layer {op.name!r} (a state, or half of merge_mode=None); the "
            "numpy kernels give a layer's main output only."
        )
    if id(op) not in index:
        raise UnsupportedLayerError(f"{where}: its input comes from {op.name!r}, which is not a layer of this model.")
    return index[id(op)]


def _inputs(layer, index: dict[int, int], own: set[int]) -> list[int]:
    where = f"layer {layer.name!r}"
    nodes = [n for n in layer._inbound_nodes if n.operation is layer and id(n) in own]  # not other models' calls
    if len(nodes) != 1:
        raise UnsupportedLayerError(f"{where} is called {len(nodes)} times; the numpy graph calls each layer once.")
    return [_producer(t, index, where) for t in nodes[0].input_tensors]


def describe(model) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The numpy spec's layer list (topological order, `inputs` where a layer does not take the previous
    one's output) and the weight arrays, for a model that passed inspect_model.

    Raises:
        UnsupportedLayerError: a layer without a numpy kernel, or a layer called more than once.
    """
    layers: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    index: dict[int, int] = {}
    chain = type(model).__name__ == "Sequential"  # its layers' nodes repeat with every rebuild: a chain anyway
    own = {id(n) for nodes in getattr(model, "_nodes_by_depth", {}).values() for n in nodes}
    if len(model.inputs) > 1:
        index.update({id(t._keras_history.operation): -1 - k for k, t in enumerate(model.inputs)})
    for i, layer in enumerate(model.layers):
        if type(layer).__name__ == "InputLayer":
            continue
        rec = _record(layer, f"{i}_{layer.name}", arrays)
        if not chain:
            ins = _inputs(layer, index, own)
            if len(ins) > 1 and type(layer).__name__ not in MERGES:
                _initial_state(layer, rec, ins)
            if ins != [len(layers) - 1] or len(model.inputs) > 1:
                rec["inputs"] = ins
        index[id(layer)] = len(layers)
        layers.append(rec)
    if len(model.outputs) > 1:
        return layers, arrays  # several outputs: write() names their producers (outputs())
    last = len(layers) - 1 if chain else _producer(model.outputs[0], index, "the model output")
    if last != len(layers) - 1:
        layers.append({"kind": "identity", "inputs": [last]})
    return layers, arrays


def outputs(model) -> list[int]:
    """The layer record of each of several outputs (the numpy kernels return a layer's main output only)."""
    index = {id(layer): i for i, layer in enumerate(x for x in model.layers if type(x).__name__ != "InputLayer")}
    found = []
    for k, tensor in enumerate(model.outputs):
        history = tensor._keras_history
        if history.tensor_index:
            raise UnsupportedLayerError(
                f"model output {k} is output {history.tensor_index} of layer {history.operation.name!r} (its states "
                "or the second half of merge_mode=None); the numpy kernels return a layer's main output only."
            )
        found.append(_producer(tensor, index, f"model output {k}"))
    return found


def spec_version(layers: list[dict[str, Any]]) -> int:
    """1 for a chain of the version-1 kinds (older readers run it), else 2."""
    plain = all(rec["kind"] in V1_KINDS and "inputs" not in rec for rec in layers)
    return SPEC_VERSION if plain else GRAPH_VERSION


def started_chain(layers: list[dict[str, Any]], what: str) -> tuple[list[dict[str, Any]], int, list[list[int]]]:
    """A several-input layer list that is a chain from one model input whose other inputs are only recurrent
    layers' initial states: (the records without `inputs`, the sequence input's k, each record's state inputs' k).

    Raises:
        UnsupportedLayerError: any other wiring (a merge of inputs, a skip).
    """
    ins = [rec.get("inputs", [i - 1]) for i, rec in enumerate(layers)]
    first = ins[0][0] if ins else 0
    chain = first < 0 and all(wires[0] == i - 1 for i, wires in enumerate(ins) if i)
    if not chain or any(j >= 0 for wires in ins for j in wires[1:]):
        raise UnsupportedLayerError(f"{what} takes several inputs only as recurrent layers' initial_state in a chain.")
    stripped = [{k: v for k, v in rec.items() if k not in ("inputs", "initial_state")} for rec in layers]
    return stripped, -1 - first, [[-1 - j for j in wires[1:]] for wires in ins]


def chain_only(layers: list[dict[str, Any]], kinds: tuple[str, ...], what: str) -> None:
    """UnsupportedLayerError unless `layers` is a chain of `kinds` (the C and native ONNX writers' set)."""
    for rec in layers:
        if rec["kind"] not in kinds or "inputs" in rec:
            why = "a layer with several inputs or a skip" if "inputs" in rec else f"layer kind {rec['kind']!r}"
            raise UnsupportedLayerError(f"{what} has no kernel for {why} (it runs chains of {list(kinds)}).")


def write(model, path: Path, info: ModelInfo, form: GraphForm) -> ArtifactEntry:
    """Write the model's layer list and float32 weights as an .npz for the numpy backend."""
    layers, arrays = describe(model)
    version = GRAPH_VERSION if info.heads else spec_version(layers)
    version = INPUTS_VERSION if info.inputs else version  # older readers refuse it by its version
    spec = {"version": version, "timesteps": info.timesteps, "layers": layers}
    if info.inputs:  # several inputs: their shapes, fed from the packed array (runtime/inputs.py)
        spec["inputs"] = [list(p.shape) for p in info.inputs]
    if info.heads:
        spec["outputs"] = outputs(model)
    if info.vocabulary:  # token ids (batch, T): only a version-2 reader knows the embedding kind
        spec.update(input_shape=[info.timesteps], input_dtype="int32")
    elif version == GRAPH_VERSION or info.inputs:
        spec["input_shape"] = [info.timesteps, info.features]
    with open(path, "wb") as fh:  # a file object keeps np.savez from appending '.npz' to the name
        np.savez(fh, **{SPEC_KEY: np.array(json.dumps(spec))}, **arrays)
    kinds = collections.Counter(rec["kind"] for rec in layers)
    entry = ArtifactEntry(
        file=Path(path).name, format="numpy", graph_form=form.name, graph_form_reason=form.reason, ops=dict(kinds)
    )
    return entry.with_(arrays=len(arrays), spec_version=version)


def forms(info: ModelInfo) -> list[GraphForm]:
    """One form: the reference equations."""
    return [GraphForm(REFERENCE, REASON)]
