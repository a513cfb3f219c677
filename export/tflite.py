"""Keras -> TFLite, builtin ops only.

Forms (see README "Graph forms"):
- `unrolled`: a clone with unroll=True and the same weights; a free batch dimension and the fastest
  form. Used when timesteps <= UNROLL_MAX_TIMESTEPS.
- `while_batch1`: a clone with a static batch of 1, which converts the recurrence to a builtin WHILE
  loop; any sequence length, but batch fixed at 1 (the runtime loops over rows).
`from_keras_model` on the original (free batch) fails with TensorListReserve, and `model.export`
emits Flex ops: neither is used.
"""
from __future__ import annotations

import collections
import contextlib
import io
from pathlib import Path

from edgernn.runtime.errors import ExportError, UnsupportedModelError
from edgernn.runtime.tflite_ops import custom_ops

from .artifact import Artifact
from .model_info import ModelInfo, clone_with

UNROLL_MAX_TIMESTEPS = 256


def convert(keras_model, optimize=None, configure=None, converter=None) -> bytes:
    """Run TFLiteConverter.from_keras_model (or the given `converter`) restricted to builtin ops; refuse Flex/custom ops."""
    import tensorflow as tf

    converter = converter or tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if optimize:
        converter.optimizations = optimize
    if configure:
        configure(converter)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its SavedModel signature
            content = converter.convert()
    except Exception as exc:
        raise ExportError(f"TFLite conversion with builtin ops only failed: {type(exc).__name__}: {exc}") from None
    found = custom_ops(content)
    if found:
        raise UnsupportedModelError(f"the TFLite converter emitted Flex/custom ops {sorted(set(found))}; refused.")
    return content


def op_counts(content: bytes) -> dict[str, int]:
    """Builtin op names and counts, as the interpreter reads them."""
    from edgernn.runtime.backends import litert

    module = litert._interpreter_module()
    if module is None:
        raise ExportError(f"a TFLite file cannot be proven without a LiteRT interpreter: {litert.INSTALL_HINT}.")
    interp = module.Interpreter(model_content=content)
    return dict(collections.Counter(op["op_name"] for op in interp._get_ops_details()))


def graph_form_for(info: ModelInfo) -> tuple[str, str]:
    if info.timesteps <= UNROLL_MAX_TIMESTEPS:
        return "unrolled", (
            f"timesteps {info.timesteps} <= {UNROLL_MAX_TIMESTEPS}: an unrolled clone converts to builtin ops "
            "with a free batch dimension and runs fastest"
        )
    return "while_batch1", (
        f"timesteps {info.timesteps} > {UNROLL_MAX_TIMESTEPS}: unrolling would bloat the graph, so a static "
        "batch-1 clone converts the recurrence to a builtin WHILE loop (batch fixed at 1)"
    )


def export_tflite(model, filepath: Path, info: ModelInfo, *, form: str | None = None) -> Artifact:
    """Write `model` as a float32 builtin-only .tflite file.

    Args:
        model: a Keras model that passed `inspect_model`.
        filepath: where to write.
        info: the model's ModelInfo.
        form: 'unrolled' or 'while_batch1' to force a graph form; None picks by timesteps.
    """
    chosen, reason = graph_form_for(info)
    if form is not None and form != chosen:
        chosen, reason = form, f"{form} requested by the caller"
    if chosen == "unrolled":
        clone, batch = clone_with(model, unroll=True), None
    elif chosen == "while_batch1":
        clone, batch = clone_with(model, unroll=False, batch=1), 1
    else:
        raise ExportError(f"unknown TFLite graph form {chosen!r}; expected 'unrolled' or 'while_batch1'.")
    content = convert(clone)
    Path(filepath).write_bytes(content)
    return Artifact(
        file=Path(filepath).name,
        format="tflite",
        graph_form=chosen,
        graph_form_reason=reason,
        batch=batch,
        ops=op_counts(content),
    )
