"""Quantized TFLite variants: `dynamic` (int8 weights), `float16` (fp16 weights), `int8` (full integer).

Forms, measured on TF 2.21 with an LSTM(64) on (24, 3) (README "Quantized variants"):
- An unrolled graph repeats the step's ops once per timestep; with small weights that per-op overhead,
  not the weights, is most of the file (float32: 136 KB for 70 KB of weights). Quantizing only shrinks
  the weights, so `dynamic` (and `float16` of non-LSTM models) prefer the `while_batch1` form, whose
  one loop body holds the step once: 24% and 33% of the float32 file against 66% and 75% unrolled, at
  a similar batch-1 latency. Unrolled is their fallback.
- `int8` and `float16` of LSTM-only models prefer the `fused_batch1` form (fused_lstm.py):
  TFLite's fused LSTM op, which holds the weights once (int8: 16% of the float32 file against 95%
  unrolled, but 8-10x slower at batch 1 in LiteRT on x86; float16: 29%). `dynamic` does not: the
  converter leaves the fused op's weights in float32.
- `int8` otherwise is unrolled: calibrating the WHILE form segfaults the TF 2.21 converter (the
  loop's tensors), so it is never tried. Its input and output tensors are int8; the runtime
  quantizes and dequantizes with their scale and zero point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import ArtifactEntry

from ...model_info import ModelInfo
from ..base import (
    FUSED_BATCH1,
    QUANTIZED,
    UNROLL_MAX_TIMESTEPS,
    UNROLLED,
    WHILE_BATCH1,
    GraphForm,
    VariantJob,
    try_forms,
)
from .convert import op_counts
from .isolated import convert_isolated
from .quantized import MAX_CALIBRATION, configure, tflite_bytes

_COMPACT = "one loop body instead of one copy of the step per timestep: quantizing shrinks weights, not ops"


def variant_forms(info: ModelInfo, variant: str) -> list[GraphForm]:
    """Graph forms to try for a variant, best first, each with the reason it is chosen."""
    if variant not in QUANTIZED:
        raise ExportError(f"unknown TFLite variant {variant!r}; expected one of {QUANTIZED}.")
    fused = []
    if variant in ("int8", "float16") and set(info.cells) == {"lstm"} and not info.bidirectional:
        fused = [
            GraphForm(
                FUSED_BATCH1,
                f"{variant}: TFLite's fused LSTM op holds the step once with one set of "
                "quantization parameters; the smallest file (batch fixed at 1)",
            )
        ]
    if variant == "int8":
        if info.timesteps > UNROLL_MAX_TIMESTEPS:
            if fused:
                return fused
            raise ExportError(
                f"int8 needs the unrolled form (calibrating a WHILE loop crashes the TF converter), and "
                f"timesteps {info.timesteps} > {UNROLL_MAX_TIMESTEPS} is too long to unroll; use 'dynamic'."
            )
        return fused + [GraphForm(UNROLLED, "full integer: calibrating the WHILE form crashes the TF 2.21 converter")]
    forms = fused + [GraphForm(WHILE_BATCH1, f"{variant}: {_COMPACT} (batch fixed at 1)")]
    if info.timesteps <= UNROLL_MAX_TIMESTEPS:
        forms.append(GraphForm(UNROLLED, "fallback: the while_batch1 form did not convert or pass parity"))
    return forms


def weight_types(content: bytes) -> dict[str, int]:
    """Constant tensors (weights, biases) per element type, over all subgraphs: what quantization changed."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    counts: dict[str, int] = {}
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            data = model.buffers[tensor.buffer].data
            if data is not None and len(data):
                key = names.get(tensor.type, str(tensor.type))
                counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def quantize_tflite(
    model, path: Path, info: ModelInfo, variant: str, form: GraphForm, calibration: np.ndarray | None = None
) -> ArtifactEntry:
    """Write a quantized builtin-only .tflite of `model` in `form`.

    int8 is converted in a child process (isolated.py): calibration is where the converter
    crashes, and a crash must cost that variant only.

    Args:
        calibration: windows in model units (int8 only; at most MAX_CALIBRATION are used).

    Raises:
        ExportError: unknown variant/form, no calibration for int8, or the converter failed or crashed.
    """
    if variant not in QUANTIZED:
        raise ExportError(f"unknown TFLite variant {variant!r}; expected one of {QUANTIZED}.")
    if variant == "int8":
        configure(variant, calibration)  # refuse a missing calibration before starting a process
        windows = np.asarray(calibration, dtype=np.float32)[:MAX_CALIBRATION]
        content = convert_isolated(model, variant, form.name, windows)
    else:
        content = tflite_bytes(model, variant, form.name, calibration)
    Path(path).write_bytes(content)
    extra = {"calibration_windows": int(min(len(calibration), MAX_CALIBRATION))} if variant == "int8" else {}
    extra["weights"] = weight_types(content)
    if variant == "dynamic" and not extra["weights"].get("int8"):
        extra["note"] = (
            "no weight tensor reached the converter's minimum size for dynamic-range quantization "
            "(1024 elements): weights stay float32; only the graph form differs from model.tflite"
        )
    entry = ArtifactEntry(
        file=Path(path).name,
        format="tflite",
        variant=variant,
        graph_form=form.name,
        graph_form_reason=form.reason,
        batch=None if form.name == UNROLLED else 1,
        ops=op_counts(content),
        reset_variables=form.name == FUSED_BATCH1,
    )
    return entry.with_(**extra)


def write_variant(job: VariantJob) -> ArtifactEntry:
    """The variant in the first of its forms that converts and passes the held-out measurement."""
    path = job.folder / f"model.{job.variant}.tflite"

    def write(form: GraphForm) -> ArtifactEntry:
        return quantize_tflite(job.model, path, job.info, job.variant, form, job.calibration)

    return try_forms(path, variant_forms(job.info, job.variant), write, job.measure)
