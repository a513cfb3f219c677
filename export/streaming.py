"""Step models for streaming: one sample in, one prediction out, the recurrent state explicit.

TFLite cannot carry `stateful=True` state, so edgernn exports a second graph per format whose
state is an input and an output: inputs `x_t` (batch, features) and every state tensor
(`state_<layer>_h`, plus `state_<layer>_c` for LSTM), outputs `y_t` and `next_state_<layer>_<h|c>`.
It is built from the trained layers' own cells (same weights, same math), so stepping N samples
equals the full model with return_sequences=True; each file is proven on that before it is written.
"""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import STEP_ROLE, ArtifactEntry, Refusal, Spec, StreamingBlock
from edgernn.runtime.stream import StepModel

from .conv_step import buffer_width, conv_step_class, require_conv_step
from .feeds import started_states, step_info
from .fold import PASS_THROUGH
from .formats import STEP_INPUT, STEP_OUTPUT, StepSource, file_fields, get_format
from .model_info import RNN_CLASSES, ModelInfo
from .stream_proof import PROOF_BATCHES, PROOF_REPEATS, proof_cases, sequence_reference  # noqa: F401 - re-exported
from .verify import Case, verify

NEXT = "next_"
PER_STEP = ("Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "LayerNormalization", "BatchNormalization")
SKIPPED = PASS_THROUGH  # layers that compute nothing at inference


def _per_step(layer):
    """The layer a step applies to the sample (TimeDistributed(Dense): its Dense), or None."""
    cls = type(layer).__name__
    if cls == "TimeDistributed" and type(layer.layer).__name__ == "Dense":
        return layer.layer
    return layer if cls in PER_STEP else None


def check_streamable(model) -> None:
    """Raise ExportError naming the layer when the model cannot run one sample at a time."""
    if len(model.inputs) > 1:
        started_states(model)  # several inputs stream when the others are initial states only
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "Conv1D":
            require_conv_step(layer)
        elif cls not in (*RNN_CLASSES, "Bidirectional", *SKIPPED) and _per_step(layer) is None:
            raise ExportError(
                f"layer {layer.name!r} ({cls}) needs more than the current sample (a window over time, a "
                "reshape, a merge) or has no step form yet; step models run recurrent layers and per-sample "
                f"layers ({', '.join(PER_STEP)}, TimeDistributed(Dense), Dropout). Export without --streaming."
            )
        if cls == "Bidirectional":
            raise ExportError(
                f"layer {layer.name!r} is Bidirectional: its backward half reads the window from the last "
                "sample to the first, so the output at step t needs samples that have not arrived yet. "
                "Such a model cannot stream; export it without --streaming, or train a unidirectional model."
            )
        if cls in RNN_CLASSES and layer.get_config().get("go_backwards"):
            raise ExportError(
                f"layer {layer.name!r} has go_backwards=True, so it cannot stream; export it without --streaming."
            )


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
    """A Keras model (x_t, *states) -> {y_t, next_*}, sharing `model`'s weights; and the state list.

    A state that `model` starts from an input (initial_state=) records that input's name as its `initial`.
    `info` is the step's (step_info): its `features` are x_t's."""
    import keras

    check_streamable(model)
    started = {where: name for name, where in started_states(model).items()} if len(model.inputs) > 1 else {}
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
            for k, ((name, size), tensor) in enumerate(zip(named, new)):
                outputs[NEXT + name] = tensor
                initial = started.get((layer.name, k), "zeros")
                states.append(
                    {"name": name, "output": NEXT + name, "shape": [size], "layer": layer.name, "initial": initial}
                )
            index += 1
        elif cls == "Conv1D":
            h, index = _conv_step(layer, index, h, inputs, outputs, states)
        elif _per_step(layer) is not None:
            h = _per_step(layer)(h)
        # InputLayer: replaced by x_t; Dropout and noise: identity at inference.
    step = keras.Model(inputs, {STEP_OUTPUT: h, **outputs}, name=f"{model.name}_step")
    return step, states


def _conv_step(layer, index: int, h, inputs: list, outputs: dict, states: list):
    """A causal Conv1D's step: its input buffer is a state (none for kernel_size 1)."""
    import keras

    width = buffer_width(layer)
    step = conv_step_class()(layer, name=f"step_{layer.name}")
    if not width:
        return step(h), index
    name = f"state_{index}_buf"
    buffer = keras.Input((width,), name=name)
    h, nxt = step(h, buffer)
    inputs.append(buffer)
    outputs[NEXT + name] = nxt
    states.append({"name": name, "output": NEXT + name, "shape": [width], "layer": layer.name, "initial": "zeros"})
    return h, index + 1


def write_step_models(model, folder: Path, info: ModelInfo, spec: Spec, formats, seed: int = 0, source=None):
    """Write and prove `step.<fmt>` for each format. Returns (the manifest's StreamingBlock, entries, refusals):
    a format whose step model fails is left out with the reason, the others kept.

    `source` is the model the step models are built from (the folded model, export/fold.py); the
    proof's reference is always `model` in model units.

    Each file is stepped through 10 x T samples (batch 1 and 3) in every installed backend of its
    format, through the runtime's own StepModel, and compared with the sequence reference.

    Raises:
        ExportError: the model cannot stream (Bidirectional, go_backwards, ...), or no step model passed.
    """
    source_model = model if source is None else source
    step, states = build_step_model(source_model, step_info(info))
    block = StreamingBlock.parse({"input": STEP_INPUT, "output": STEP_OUTPUT, "states": states}, "the step model")
    cases = [Case(label, xs, ref) for label, xs, ref in proof_cases(model, info, seed, block)]
    step_source = StepSource(step, states, source_model, step_info(info))
    entries, refusals = [], []
    for fmt in map(get_format, formats):
        if fmt.streams_in_model:  # e.g. C: model.c has P_step, proven on 10 x T steps when it was written
            continue
        if fmt.step_writer is None:
            able = [f for f in formats if get_format(f).step_writer]
            raise ExportError(
                f"no step model writer for format {fmt.name!r} (streaming supports {able}); "
                "export that format without --streaming."
            )
        path = folder / fmt.file("step")
        try:
            entries.append(_write_step(fmt, step_source, path, spec, block, cases))
        except EdgeRNNError as exc:
            refusals.append(Refusal(fmt.name, STEP_ROLE, str(exc)))
            path.unlink(missing_ok=True)
    if refusals and not entries:
        raise ExportError("no step model passed: " + " | ".join(f"{r.format}: {r.reason}" for r in refusals))
    return block, entries, refusals


def _write_step(fmt, step_source: StepSource, path: Path, spec: Spec, block: StreamingBlock, cases) -> ArtifactEntry:
    entry = fmt.step_writer(step_source, path)
    content = path.read_bytes()  # hashed and proven: the same bytes
    entry = entry.with_(**file_fields(content))

    def stepper(name: str, data: bytes):
        run = StepModel.load(name, data, entry, spec, block).run_model_units
        return lambda x: run(*x) if isinstance(x, tuple) else run(x)  # (samples, initial states): see proof_cases

    entry = verify(content, entry, spec, cases, opener=stepper, streaming=block)  # first in a child
    return entry.with_(verified_steps=max(case.outputs.shape[1] for case in cases))
