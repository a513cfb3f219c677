"""The outputs of a Keras model as the manifest holds them: one, or several named heads.

Several outputs (return_state=True, Bidirectional(merge_mode=None), multi-task heads) are named
after the layer that makes each (Keras's `output_names`); a layer giving several gets `name:k`, its
k-th output, as TensorFlow names tensors. Their values travel packed (runtime/outputs.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgernn.runtime.errors import ExportError, UnsupportedModelError
from edgernn.runtime.inputs import Port, split
from edgernn.runtime.outputs import Head, pack


class UnsupportedLayerError(ExportError, UnsupportedModelError):
    """A layer or option the exporters refuse; an ExportError and an UnsupportedModelError."""


def _check(shape: tuple, in_steps: Any, what: str, own_steps: bool = False) -> None:
    """`own_steps`: the one output may be a sequence of another fixed length (manifest output.timesteps)."""
    if len(shape) not in (2, 3) or shape[-1] is None:
        raise UnsupportedLayerError(
            f"{what} has shape {shape}; expected (batch, outputs) or (batch, timesteps, outputs). "
            "Add a Flatten or Reshape head."
        )
    if own_steps and len(shape) == 3 and in_steps is not None and shape[1] is not None and shape[1] > 0:
        return
    if len(shape) == 3 and shape[1] != in_steps:
        raise UnsupportedLayerError(
            f"{what} has shape {shape}: a sequence of {shape[1]} steps from {in_steps} input steps; "
            "an edgernn bundle returns (batch, outputs) or one output per input step (the manifest's shape). "
            "End the model with a Flatten or Global*Pooling1D head, or keep the time axis."
        )


def output_heads(model, in_shape: tuple) -> tuple[Head, ...]:
    """Every output's shape checked; the named heads of a model with several, () for one output."""
    outputs = list(model.outputs)
    if len(outputs) == 1:
        _check(tuple(outputs[0].shape), in_shape[1], "model output", own_steps=True)
        return ()
    names = [t._keras_history.operation.name for t in outputs]
    heads = []
    for i, (tensor, name) in enumerate(zip(outputs, names)):
        if names.count(name) > 1:
            name = f"{name}:{tensor._keras_history.tensor_index}"
        shape = tuple(tensor.shape)
        _check(shape, in_shape[1], f"model output {i} ({name!r})")
        heads.append(Head(name, tuple(int(d) for d in shape[1:])))
    return tuple(heads)


def output_timesteps(model, in_steps: int | None) -> int | None:
    """The one sequence output's length when it differs from the input's (a strided Conv1D), else None."""
    shape = tuple(model.outputs[0].shape)
    if len(model.outputs) != 1 or len(shape) != 3 or shape[1] == in_steps:
        return None
    return int(shape[1])


def check_free_length(model, features: int) -> None:
    """UnsupportedLayerError unless a free-T model runs at every T >= 1 with one output step per input step.

    Keras builds such a model for T = None, but a Conv1D or pooling window longer than T fails when
    called, and a strided one returns fewer steps than it was given; a free-T bundle promises neither.
    """
    for steps in (1, 7):
        try:
            y = model(np.zeros((1, steps, features), np.float32), training=False)
        except Exception as exc:  # what Keras raises for a window longer than the sequence varies by layer
            problem = f"Keras cannot run it at T={steps} ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        else:
            shape = tuple(y[0].shape if isinstance(y, (list, tuple)) else y.shape)
            if len(shape) != 3 or shape[1] == steps:
                continue
            problem = f"its sequence output has {shape[1]} steps from T={steps}"
        raise UnsupportedLayerError(
            f"model {model.name!r} takes a free sequence length (Input((None, {features}))), but {problem}; "
            "a free-T bundle takes any T >= 1 and returns one output step per input step. "
            "Export with --timesteps T (ExportOptions(timesteps=T)) for a fixed length."
        )


def keras_inputs(model, x: np.ndarray) -> Any:
    """What Keras is called with: `x` itself for one input; for several, the packed array (runtime/inputs.py)
    split into a list in the model's input order."""
    if len(model.inputs) == 1:
        return x
    return split(np.asarray(x, np.float32), [Port("", tuple(int(d) for d in t.shape[1:])) for t in model.inputs])


def keras_outputs(model, x: np.ndarray) -> np.ndarray:
    """Keras's answer as one float32 array: the outputs packed in head order when there are several
    (several inputs are given packed, see keras_inputs)."""
    y = model(keras_inputs(model, x), training=False)
    return pack(y) if isinstance(y, (list, tuple)) else np.asarray(y, dtype=np.float32)


def check_heads_options(info: Any, options: Any) -> None:
    """ExportError for what a model with several outputs cannot take yet: an output map, step models, variants."""
    if not info.heads:
        return
    why = f"the model has {len(info.heads)} outputs ({', '.join(h.name for h in info.heads)}) "
    if map_given(options.output_scale, options.output_offset):
        raise ExportError(
            f"--output-scale/--output-offset: {why}and an output map for several outputs is not "
            "implemented; they are returned in model units. Drop the output map."
        )
    refuse_streaming_and_variants(options, why, "with several outputs")


def map_given(scale: Any, offset: Any) -> bool:
    """Whether a unit map other than the identity was given (a re-export carries the identity)."""
    maps = ((scale, 1.0), (offset, 0.0))
    return any(value is not None and not np.all(np.asarray(value, np.float64) == neutral) for value, neutral in maps)


def refuse_streaming_and_variants(options: Any, why: str, what: str) -> None:
    """ExportError for --streaming or --quantize on a model kind that has neither yet (`what` names the kind)."""
    if options.streaming:
        raise ExportError(f"--streaming: {why}and step models {what} are not implemented yet.")
    if options.quantize:
        raise ExportError(f"--quantize: {why}and quantized variants {what} are not implemented yet.")
