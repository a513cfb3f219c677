"""Quantized TFLite variants: `dynamic` (int8 weights), `float16` (fp16 weights), `int8` (full integer).

Forms, measured on TF 2.21 with an LSTM(64) on (24, 3) (README "Quantized variants"):
- An unrolled graph repeats the step's ops once per timestep; with small weights that per-op overhead,
  not the weights, is most of the file (float32: 136 KB for 70 KB of weights). Quantizing only shrinks
  the weights, so `dynamic` (and `float16` of non-LSTM models) prefer the `while_batch1` form, whose
  one loop body holds the step once: 24% and 33% of the float32 file against 66% and 75% unrolled, at
  a similar batch-1 latency. Unrolled is their fallback.
- `int8` and `float16` of LSTM-only models prefer the `fused_batch1` form (export/fused_lstm.py):
  TFLite's fused LSTM op, which holds the weights once (int8: 16% of the float32 file against 95%
  unrolled, but 8-10x slower at batch 1 in LiteRT on x86; float16: 29%). `dynamic` does not: the
  converter leaves the fused op's weights in float32.
- `int8` otherwise is unrolled: calibrating the WHILE form segfaults the TF 2.21 converter (the
  loop's tensors), so it is never tried. Its input and output tensors are int8; the runtime
  quantizes and dequantizes with their scale and zero point.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from edgernn.runtime.errors import ExportError

from .artifact import Artifact
from .model_info import ModelInfo, clone_with
from .tflite import UNROLL_MAX_TIMESTEPS, convert, op_counts

TFLITE_VARIANTS = ("dynamic", "float16", "int8")
MAX_CALIBRATION = 1000  # windows fed to the calibrator; more adds time, not accuracy

_COMPACT = "one loop body instead of one copy of the step per timestep: quantizing shrinks weights, not ops"


def variant_forms(info: ModelInfo, variant: str) -> list[tuple[str, str]]:
    """Graph forms to try for a variant, best first, each with the reason it is chosen."""
    if variant not in TFLITE_VARIANTS:
        raise ExportError(f"unknown TFLite variant {variant!r}; expected one of {TFLITE_VARIANTS}.")
    fused = []
    if variant in ("int8", "float16") and set(info.cells) == {"lstm"} and not info.bidirectional:
        fused = [("fused_batch1", f"{variant}: TFLite's fused LSTM op holds the step once with one set of "
                                  "quantization parameters; the smallest file (batch fixed at 1)")]
    if variant == "int8":
        if info.timesteps > UNROLL_MAX_TIMESTEPS:
            if fused:
                return fused
            raise ExportError(
                f"int8 needs the unrolled form (calibrating a WHILE loop crashes the TF converter), and "
                f"timesteps {info.timesteps} > {UNROLL_MAX_TIMESTEPS} is too long to unroll; use 'dynamic'."
            )
        return fused + [("unrolled", "full integer: calibrating the WHILE form crashes the TF 2.21 converter")]
    forms = fused + [("while_batch1", f"{variant}: {_COMPACT} (batch fixed at 1)")]
    if info.timesteps <= UNROLL_MAX_TIMESTEPS:
        forms.append(("unrolled", "fallback: the while_batch1 form did not convert or pass parity"))
    return forms


def _configure(variant: str, calibration: np.ndarray | None) -> Callable | None:
    import tensorflow as tf

    if variant == "dynamic":
        return None
    if variant == "float16":
        def fp16(converter) -> None:
            converter.target_spec.supported_types = [tf.float16]
        return fp16
    if calibration is None or len(calibration) == 0:
        raise ExportError(
            "int8 needs calibration windows: pass representative= (the training windows) to export_bundle, "
            "or --calibration WINDOWS.npy (shape (n, timesteps, features), raw units) to 'edgernn export'."
        )
    windows = np.asarray(calibration, dtype=np.float32)[:MAX_CALIBRATION]

    def representative():
        for i in range(len(windows)):
            yield [windows[i : i + 1]]

    def int8(converter) -> None:
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return int8


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


def tflite_bytes(model, variant: str, form: str, calibration: np.ndarray | None = None) -> bytes:
    """Convert `model` to the quantized `variant` in graph `form`, in this process; return the bytes."""
    import tensorflow as tf

    configure = _configure(variant, calibration)
    if form == "fused_batch1":
        from .fused_lstm import FUSED_OP, saved_model

        with saved_model(model) as path:
            content = convert(None, optimize=[tf.lite.Optimize.DEFAULT], configure=configure,
                              converter=tf.lite.TFLiteConverter.from_saved_model(path))
        if FUSED_OP not in op_counts(content):
            raise ExportError(f"the converter did not fuse the LSTM (no {FUSED_OP} op in the file).")
        return content
    if form == "unrolled":
        clone = clone_with(model, unroll=True)
    elif form == "while_batch1":
        clone = clone_with(model, unroll=False, batch=1)
    else:
        raise ExportError(f"unknown TFLite graph form {form!r}; expected 'fused_batch1', 'unrolled' or 'while_batch1'.")
    return convert(clone, optimize=[tf.lite.Optimize.DEFAULT], configure=configure)


def quantize_tflite(model, path: Path, info: ModelInfo, variant: str, *, form: str, reason: str = "",
                    calibration: np.ndarray | None = None) -> Artifact:
    """Write a quantized builtin-only .tflite of `model`.

    int8 is converted in a child process (export/isolated.py): calibration is where the converter
    crashes, and a crash must cost that variant only.

    Args:
        model: a Keras model that passed `inspect_model`.
        path: where to write.
        info: the model's ModelInfo.
        variant: 'dynamic', 'float16' or 'int8'.
        form: 'while_batch1' or 'unrolled' (see `variant_forms`).
        calibration: windows in model units (int8 only; at most MAX_CALIBRATION are used).

    Raises:
        ExportError: unknown variant/form, no calibration for int8, or the converter failed or crashed.
    """
    if variant not in TFLITE_VARIANTS:
        raise ExportError(f"unknown TFLite variant {variant!r}; expected one of {TFLITE_VARIANTS}.")
    if variant == "int8":
        from .isolated import convert_isolated

        _configure(variant, calibration)  # refuse a missing calibration before starting a process
        content = convert_isolated(model, variant, form, np.asarray(calibration, dtype=np.float32)[:MAX_CALIBRATION])
    else:
        content = tflite_bytes(model, variant, form, calibration)
    Path(path).write_bytes(content)
    extra = {"calibration_windows": int(min(len(calibration), MAX_CALIBRATION))} if variant == "int8" else {}
    extra["weights"] = weight_types(content)
    if form == "fused_batch1":
        extra["reset_variables"] = True  # the fused LSTM keeps h/c in variable tensors between invokes
    if variant == "dynamic" and not extra["weights"].get("int8"):
        extra["note"] = ("no weight tensor reached the converter's minimum size for dynamic-range quantization "
                         "(1024 elements): weights stay float32; only the graph form differs from model.tflite")
    return Artifact(file=Path(path).name, format="tflite", variant=variant, graph_form=form, graph_form_reason=reason,
                    batch=None if form == "unrolled" else 1, ops=op_counts(content), extra=extra)
