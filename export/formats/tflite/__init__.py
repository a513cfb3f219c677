"""TFLite: builtin ops only (convert.py), quantized variants (quantize.py, fused_lstm.py, isolated.py),
the batch-1 variant for TensorFlow Lite Micro (micro.py), and the step model (step.py)."""

from ..base import QUANTIZED, Format
from . import convert, micro, quantize, step

FORMAT = Format(
    name="tflite",
    forms=convert.forms,
    write=convert.write,
    variants={**{variant: quantize.write_variant for variant in QUANTIZED}, micro.VARIANT: micro.write_tflm},
    step_writer=step.write_step,
)
