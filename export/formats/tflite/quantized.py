"""Quantized TFLite conversion in this process: the converter settings per variant, and the bytes.

quantize.py calls it directly for `dynamic` and `float16`, and through a child process
(isolated.py) for `int8`, whose calibration can crash the converter.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edgernn.runtime.errors import ExportError

from ..base import FUSED_BATCH1
from .convert import clone_for, convert, op_counts

MAX_CALIBRATION = 1000  # windows fed to the calibrator; more adds time, not accuracy


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
    return convert(clone, optimize=[tf.lite.Optimize.DEFAULT], configure=settings)
