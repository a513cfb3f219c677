"""The inputs of a Keras model as the manifest holds them: one, or several named inputs.

Several inputs (two sequences, a sequence plus a static feature vector, `initial_state` fed as
inputs) are named after their Input layers, and those names are the files' input names too (TFLite
signature inputs, ONNX graph inputs). Their values travel packed (runtime/inputs.py): golden vectors,
the proof and validate hold one (batch, total) array, split for Keras by export/heads.keras_inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgernn.runtime.errors import ExportError
from edgernn.runtime.inputs import Port, describe

from .heads import UnsupportedLayerError


def input_ports(model) -> tuple[Port, ...]:
    """The named inputs of a model with several, each checked; () for one input.

    Raises:
        UnsupportedLayerError: an integer input, a free dimension, or no (batch, timesteps, features) input.
    """
    if len(model.inputs) == 1:
        return ()
    ports = []
    for k, tensor in enumerate(model.inputs):
        name, shape = tensor._keras_history.operation.name, tuple(tensor.shape)
        where = f"model input {k} ({name!r}, shape {shape}, {tensor.dtype})"
        if "float" not in str(tensor.dtype):
            raise UnsupportedLayerError(
                f"{where}: a model with several inputs takes float32 inputs only so far (token ids go in alone). "
                "Feed it float32, or export the Embedding model with one input."
            )
        if len(shape) not in (2, 3) or any(d is None for d in shape[1:]):
            raise UnsupportedLayerError(
                f"{where}: several inputs are exported as (batch, timesteps, features) or (batch, features) with "
                "every size fixed; rebuild the Input with a fixed shape (keras.Input((T, F)) or keras.Input((K,)))."
            )
        ports.append(Port(name, tuple(int(d) for d in shape[1:])))
    if not any(len(p.shape) == 2 for p in ports):
        raise UnsupportedLayerError(
            f"model {model.name!r} has inputs {describe(ports)} and none is a sequence (batch, timesteps, features); "
            "edgernn exports recurrent sequence models."
        )
    return tuple(ports)


def check_inputs_options(spec: Any, options: Any) -> None:
    """ExportError for what a model with several inputs cannot take yet: --timesteps, variants, step models
    with an input map. --streaming is otherwise export/streaming.check_streamable's (initial_state inputs)."""
    if not spec.inputs:
        return
    refused = (
        ("--timesteps", options.timesteps, "each is at a fixed size already; drop --timesteps."),
        ("--quantize", options.quantize, "quantized (and TFLM) variants with several inputs are not implemented yet."),
        (
            "--streaming",
            options.streaming and not spec.x.identity,
            "an input map: step models of several inputs take model units (the map of one sample and of the "
            "initial states apart is not implemented). Drop --scale/--offset, or --streaming.",
        ),
    )
    for flag, given, why in refused:
        if given:
            raise ExportError(f"{flag}: the model has {len(spec.inputs)} inputs ({describe(spec.inputs)}) and {why}")


def packed_map(value: Any, ports: Sequence[Port], what: str) -> Any:
    """A map per input, {name: scalar or one value per feature}, as the packed row's values (runtime/inputs.py);
    a scalar or an already packed list passes through. ExportError naming the input for a bad size or name."""
    if not isinstance(value, Mapping):
        return value
    names = [p.name for p in ports]
    unknown = [str(k) for k in value if k not in names]
    if unknown:
        raise ExportError(f"{what} names inputs {unknown}; the model's inputs are {names}.")
    packed = []
    for port in ports:
        values = np.asarray(value.get(port.name, 1.0 if what == "scale" else 0.0), np.float64).ravel()
        if values.size not in (1, port.shape[-1]):
            raise ExportError(
                f"{what} of input {port.name!r} has {values.size} values; expected 1 or {port.shape[-1]} (one per "
                f"feature of its shape {port.shape})."
            )
        packed += np.broadcast_to(values, port.shape).ravel().tolist()
    return packed


def started_states(model) -> dict[str, tuple[str, int]]:
    """{input name: (recurrent layer, state k)} for a model whose inputs beyond one sequence are only the
    initial states of its recurrent layers, in a chain: it streams, each state starting from its input.

    Raises:
        ExportError: another use of several inputs (a merge, a state passed between layers): it cannot stream.
    """
    inputs = {id(t._keras_history.operation): t._keras_history.operation.name for t in model.inputs}
    started, previous = {}, None
    for layer in (x for x in model.layers if id(x) not in inputs):
        tensors = [t._keras_history for t in _call(layer).input_tensors]
        source, *states = tensors
        chained = id(source.operation) in inputs if previous is None else source.operation is previous
        recurrent = type(layer).__name__ in ("SimpleRNN", "LSTM", "GRU")
        if not chained or (states and not recurrent) or any(id(s.operation) not in inputs for s in states):
            raise ExportError(
                f"--streaming: layer {layer.name!r} ({type(layer).__name__}) takes {len(tensors)} tensors from "
                f"{[t.operation.name for t in tensors]}; a model with several inputs streams when the inputs beyond "
                "one sequence are only its recurrent layers' initial_state (a chain otherwise). Export without "
                "--streaming."
            )
        started.update({inputs[id(s.operation)]: (layer.name, k) for k, s in enumerate(states)})
        previous = layer
    return started


def step_info(info: Any) -> Any:
    """The ModelInfo a step model is written from: one sample x_t of the sequence input (several inputs: the
    one no state starts from; the others are its states)."""
    if not info.inputs:
        return info
    sequence = [p for p in info.inputs if len(p.shape) == 2]
    return dataclasses.replace(info, features=sequence[0].shape[1], inputs=())


def _call(layer):
    nodes = [n for n in getattr(layer, "_inbound_nodes", ()) if n.operation is layer]
    return nodes[0]
