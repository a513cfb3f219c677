"""Step models for streaming: one sample in, one prediction out, the recurrent state explicit.

TFLite cannot carry `stateful=True` state, so edgernn exports a second graph per format whose
state is an input and an output: inputs `x_t` (batch, features) and every state tensor
(`state_<layer>_h`, plus `state_<layer>_c` for LSTM), outputs `y_t` and `next_state_<layer>_<h|c>`.
It is built from the trained layers' own cells (same weights, same math), so stepping N samples
equals the full model with return_sequences=True; each file is proven on that before it is written.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import Spec
from edgernn.runtime.stream import STEP_ROLE, StepModel, streaming_spec

from .artifact import Artifact, file_entry
from .model_info import RNN_CLASSES, ModelInfo
from .onnx import OPSET, check, convert_function, op_types
from .verify import Case, verify

STEP_INPUT, STEP_OUTPUT, NEXT = "x_t", "y_t", "next_"
PROOF_BATCHES = (1, 3)
PROOF_REPEATS = 10  # step 10 x T samples: past the trained length, where state drift would show


def check_streamable(model) -> None:
    """Raise ExportError naming the layer when the model cannot run one sample at a time."""
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "Bidirectional":
            raise ExportError(
                f"layer {layer.name!r} is Bidirectional: its backward half reads the window from the last "
                "sample to the first, so the output at step t needs samples that have not arrived yet. "
                "Such a model cannot stream; export it without --streaming, or train a unidirectional model."
            )
        if cls in RNN_CLASSES and layer.get_config().get("go_backwards"):
            raise ExportError(f"layer {layer.name!r} has go_backwards=True, so it cannot stream; "
                              "export it without --streaming.")


def _step_cell_class():
    import keras

    class StepCell(keras.layers.Layer):
        """Runs a trained RNN layer's cell for one step, its states as explicit tensors."""

        def __init__(self, cell, **kwargs):
            super().__init__(**kwargs)
            self.cell = cell  # the trained cell itself: its weights, no copy

        def call(self, x, states):
            out, new = self.cell(x, list(states), training=False)
            return out, list(new) if isinstance(new, (list, tuple)) else [new]

    return StepCell


def state_names(layer_index: int, cell) -> list[tuple[str, int]]:
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    kinds = ("h", "c") if len(sizes) == 2 else ("h",)
    return [(f"state_{layer_index}_{k}", int(s)) for k, s in zip(kinds, sizes)]


def build_step_model(model, info: ModelInfo):
    """A Keras model (x_t, *states) -> {y_t, next_*}, sharing `model`'s weights; and the state list."""
    import keras

    check_streamable(model)
    StepCell = _step_cell_class()
    x_t = keras.Input((info.features,), name=STEP_INPUT)
    inputs, outputs, states = [x_t], {}, []
    h, index = x_t, 0
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in RNN_CLASSES:
            named = state_names(index, layer.cell)
            ins = [keras.Input((size,), name=name) for name, size in named]
            h, new = StepCell(layer.cell, name=f"step_{index}")(h, ins)
            inputs += ins
            for (name, size), tensor in zip(named, new):
                outputs[NEXT + name] = tensor
                states.append({"name": name, "output": NEXT + name, "shape": [size], "layer": layer.name,
                               "initial": "zeros"})
            index += 1
        elif cls == "Dense":
            h = layer(h)
        # InputLayer: replaced by x_t; Dropout: identity at inference.
    step = keras.Model(inputs, {STEP_OUTPUT: h, **outputs}, name=f"{model.name}_step")
    return step, states


def sequence_reference(model):
    """A clone of `model` with every recurrent layer returning all steps and a free time axis.

    Its output on N samples is what stepping those samples from the zero state must give.
    """
    config = copy.deepcopy(model.get_config())

    def patch(node: Any) -> None:
        if isinstance(node, dict):
            cls, cfg = node.get("class_name"), node.get("config")
            if cls in RNN_CLASSES and isinstance(cfg, dict):
                cfg["return_sequences"] = True
            if cls == "InputLayer" and isinstance(cfg, dict):
                cfg["batch_shape"] = [None, None, *cfg["batch_shape"][2:]]
            for value in node.values():
                patch(value)
        elif isinstance(node, list):
            for value in node:
                patch(value)

    patch(config)
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def to_tflite(step_model, path: Path) -> Artifact:
    from . import tflite

    content = tflite.convert(step_model)
    path.write_bytes(content)
    return Artifact(file=path.name, format="tflite", graph_form="step",
                    graph_form_reason="one time step, state as explicit inputs/outputs",
                    ops=tflite.op_counts(content))


def to_onnx(step_model, path: Path, states: list[dict[str, Any]], features: int) -> Artifact:
    import tensorflow as tf

    names = [STEP_INPUT, *(s["name"] for s in states)]
    widths = [features, *(s["shape"][0] for s in states)]
    signature = [tf.TensorSpec((None, w), tf.float32, name=n) for n, w in zip(names, widths)]

    def serve(*args):
        return step_model(list(args), training=False)

    proto = convert_function(tf.function(serve, input_signature=signature), signature, OPSET, "the step model")
    check(proto)
    path.write_bytes(proto.SerializeToString())
    return Artifact(file=path.name, format="onnx", graph_form="step",
                    graph_form_reason="one time step, state as explicit inputs/outputs",
                    ops=op_types(proto), opset=OPSET)


def to_numpy(model, path: Path, info: ModelInfo) -> Artifact:
    """The numpy backend steps the same layer list and weights as model.npz (runtime numpy_ref.open_step)."""
    from .numpy_weights import export_numpy

    return export_numpy(model, path, info, form="step",
                        reason="one time step, state as explicit inputs/outputs (the layers of model.npz, stepped)")


def proof_cases(model, info: ModelInfo, seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Random samples (batch 1 and 3, 10 x T steps) and the sequence reference's per-step outputs."""
    reference = sequence_reference(model)
    rng = np.random.default_rng(seed)
    steps = PROOF_REPEATS * info.timesteps
    cases = []
    for batch in PROOF_BATCHES:
        xs = rng.uniform(-1, 1, (batch, steps, info.features)).astype(np.float32)
        cases.append((f"{steps} steps, batch {batch}", xs, np.asarray(reference(xs, training=False), np.float32)))
    return cases


def prove(path: Path, entry: dict[str, Any], manifest: dict[str, Any], spec: Spec, cases, names) -> dict[str, Any]:
    """Step every case in every installed backend of `names` (export/verify.py's one comparison path)."""
    def stepper(name: str):
        return StepModel.open(path.parent, manifest, spec, name, entry["format"], entry["variant"]).run_model_units

    proof = verify(b"", entry, spec, [Case(label, xs, ref) for label, xs, ref in cases], names, opener=stepper)
    return {**proof, "verified_steps": max(xs.shape[1] for _, xs, _ in cases)}


def write_step_models(model, folder: Path, info: ModelInfo, spec: Spec, formats, seed: int = 0):
    """Write and prove `step.<fmt>` for each format. Returns (the manifest's streaming block, entries).

    Raises:
        ExportError: the model cannot stream (Bidirectional, go_backwards), or a step model fails.
    """
    from .formats import get_format

    step, states = build_step_model(model, info)
    block = {"input": STEP_INPUT, "output": STEP_OUTPUT, "states": states, "initial_state": "zeros",
             "state_units": "model", "convention": "y_t, next states = step(x_t, states); start from zeros"}
    streaming_spec({"streaming": block})  # the runtime must be able to read what is written
    cases = proof_cases(model, info, seed)
    writers = {"tflite": lambda p: to_tflite(step, p), "onnx": lambda p: to_onnx(step, p, states, info.features),
               "numpy": lambda p: to_numpy(model, p, info)}
    entries = []
    for fmt in formats:
        if fmt not in writers:
            raise ExportError(f"no step model writer for format {fmt!r} (streaming supports {sorted(writers)}); "
                              "export that format without --streaming.")
        path = folder / f"step{get_format(fmt).suffix}"
        art = writers[fmt](path)
        entry = {**art.entry(), "role": STEP_ROLE, **file_entry(path)}
        entry.update(prove(path, entry, {"streaming": block, "artifacts": [entry]}, spec, cases, get_format(fmt).backends))
        entries.append(entry)
    return block, entries
