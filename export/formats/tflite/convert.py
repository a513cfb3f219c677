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

from edgernn.runtime.backends import litert
from edgernn.runtime.errors import ExportError, UnsupportedModelError
from edgernn.runtime.manifest import ArtifactEntry
from edgernn.runtime.vet.tflite_ops import custom_ops

from ...model_info import ModelInfo, clone_with
from ..base import UNROLL_MAX_TIMESTEPS, UNROLLED, UNROLLED_BATCH1, WHILE_BATCH1, GraphForm


def convert(keras_model, optimize=None, configure=None, converter=None) -> bytes:
    """Run TFLiteConverter.from_keras_model (or the given `converter`) with builtin ops only.

    Flex and custom ops in the result are refused (UnsupportedModelError)."""
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
        raise ExportError(f"TFLite conversion with builtin ops only failed: {type(exc).__name__}: {exc}") from exc
    found = custom_ops(content)
    if found:
        raise UnsupportedModelError(f"the TFLite converter emitted Flex/custom ops {sorted(set(found))}; refused.")
    return content


def op_counts(content: bytes) -> dict[str, int]:
    """Builtin op names and counts, as the interpreter reads them."""
    interp = litert.interpreter_module().Interpreter(model_content=content)
    return dict(collections.Counter(op["op_name"] for op in interp._get_ops_details()))


def forms(info: ModelInfo) -> list[GraphForm]:
    """Unrolled (free batch, fastest) when the sequence is short enough, else the WHILE loop."""
    if info.timesteps is None:
        return [
            GraphForm(
                WHILE_BATCH1,
                "a free sequence length: a batch-1 clone converts the recurrence to a builtin WHILE loop "
                "that runs any T (the runtime resizes the input per call)",
            )
        ]
    if info.timesteps <= UNROLL_MAX_TIMESTEPS:
        return [
            GraphForm(
                UNROLLED,
                f"timesteps {info.timesteps} <= {UNROLL_MAX_TIMESTEPS}: an unrolled clone "
                "converts to builtin ops with a free batch dimension and runs fastest",
            ),
            GraphForm(WHILE_BATCH1, "fallback: the unrolled form did not pass parity"),
        ]
    return [
        GraphForm(
            WHILE_BATCH1,
            f"timesteps {info.timesteps} > {UNROLL_MAX_TIMESTEPS}: unrolling would bloat "
            "the graph, so a static batch-1 clone converts the recurrence to a builtin WHILE loop "
            "(batch fixed at 1)",
        )
    ]


def clone_for(model, form: str):
    """The Keras clone the converter sees for `form`, and its batch (None: free)."""
    if form == UNROLLED:
        return clone_with(model, unroll=True), None
    if form == WHILE_BATCH1:
        return clone_with(model, unroll=False, batch=1), 1
    if form == UNROLLED_BATCH1:
        return clone_with(model, unroll=True, batch=1), 1
    raise ExportError(
        f"unknown TFLite graph form {form!r}; expected {UNROLLED!r}, {WHILE_BATCH1!r} or {UNROLLED_BATCH1!r}."
    )


def write(model, path: Path, info: ModelInfo, form: GraphForm) -> ArtifactEntry:
    """Write `model` as a float32 builtin-only .tflite file in `form`."""
    clone, batch = clone_for(model, form.name)
    content = convert(clone)
    Path(path).write_bytes(content)
    return ArtifactEntry(
        file=Path(path).name,
        format="tflite",
        graph_form=form.name,
        graph_form_reason=form.reason,
        batch=batch,
        ops=op_counts(content),
    )
