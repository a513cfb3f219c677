"""Quantized TFLite conversion in this process: the converter settings per variant, and the bytes.

quantize.py calls it directly for `dynamic` and `float16`, and through a child process
(isolated.py) for `int8` and `int16x8`, whose calibration can crash the converter.

`dynamic` quantizes the float32 graph with ai-edge-quantizer's `dynamic_wi8_afp32` recipe (every
kernel int8, per channel, however small); the converter's own dynamic-range pass skips any weight
under 1,024 elements, which on small recurrent models is every weight. Without ai-edge-quantizer
installed the converter's pass is the fallback, and a file with no int8 weight is refused.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.errors import ExportError

from ..base import FUSED_BATCH1
from .convert import clone_for, convert, op_counts

MAX_CALIBRATION = 1000  # windows fed to the calibrator; more adds time, not accuracy
CALIBRATED = ("int8", "int16x8", "int8-float-tail")
QUANTIZER = "ai_edge_quantizer"
QUANTIZER_RECIPE = "dynamic_wi8_afp32"


def configure(variant: str, calibration: np.ndarray | None) -> Callable | None:
    import tensorflow as tf

    if variant == "dynamic":
        return None
    if variant == "float16":

        def fp16(converter) -> None:
            converter.target_spec.supported_types = [tf.float16]

        return fp16
    if calibration is None or len(calibration) == 0:
        raise ExportError(
            f"{variant} needs calibration windows: pass representative= (the training windows) to export_bundle, "
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
        # One scale per weight tensor, not per output channel: an unrolled graph gives every timestep its
        # own bias tensor, each with per-channel scales and int64 zero points. Measured on (24, 3) x 64
        # units: GRU int8 238 KB -> 121 KB, SimpleRNN 45 -> 26 KB, LSTM 86 -> 79 KB, error unchanged.
        converter._experimental_disable_per_channel = True

    def int16x8(converter) -> None:  # float input and output: QUANTIZE/DEQUANTIZE ops at the ends
        converter.representative_dataset = representative
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]

    return int8 if variant == "int8" else int16x8


def tflite_bytes(model, variant: str, form: str, calibration: np.ndarray | None = None) -> bytes:
    """Convert `model` to the quantized `variant` in graph `form`, in this process; return the bytes."""
    import tensorflow as tf

    settings = configure(variant, calibration)
    if form == FUSED_BATCH1:
        from .fused_lstm import FUSED_OP, saved_model

        with saved_model(model) as path:
            content = convert(
                None,
                optimize=[tf.lite.Optimize.DEFAULT],
                configure=settings,
                converter=tf.lite.TFLiteConverter.from_saved_model(path),
            )
        if FUSED_OP not in op_counts(content):
            raise ExportError(f"the converter did not fuse the LSTM (no {FUSED_OP} op in the file).")
        return content
    clone, _ = clone_for(model, form)
    if variant == "dynamic" and optional.available(QUANTIZER):
        return quantize_weights(convert(clone))
    return convert(clone, optimize=[tf.lite.Optimize.DEFAULT], configure=settings)


def quantize_weights(float32: bytes) -> bytes:
    """ai-edge-quantizer's dynamic recipe on a float32 .tflite: int8 kernels, float activations."""
    import contextlib
    import io

    from ai_edge_quantizer import quantizer, recipe

    try:
        q = quantizer.Quantizer(float32, getattr(recipe, QUANTIZER_RECIPE)())
        with contextlib.redirect_stderr(io.StringIO()):  # its progress bars
            result = q.quantize(enable_progress_bar=False, enable_progress_report=False)
        return bytes(result.quantized_model)
    except Exception as exc:  # the quantizer raises plain exceptions on ops it does not cover
        raise ExportError(f"ai-edge-quantizer ({QUANTIZER_RECIPE}) failed: {type(exc).__name__}: {exc}") from exc


def strip_names(content: bytes) -> bytes:
    """The file without tensor names and signatures (a window model is run by tensor index): names are
    a third of an unrolled int8 file's bytes."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    flatbuffer_utils.strip_strings(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
