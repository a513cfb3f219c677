"""TFLite: builtin ops only (convert.py), quantized variants (quantize.py, fused_lstm.py, isolated.py),
the batch-1 variants for TensorFlow Lite Micro (micro.py, micro_int8.py), and the step model (step.py)."""

from ..base import QUANTIZED, Format
from . import convert, micro, micro_int8, quantize, step

FORMAT = Format(
    name="tflite",
    forms=convert.forms,
    write=convert.write,
    variants={
        **{variant: quantize.write_variant for variant in QUANTIZED},
        micro.VARIANT: micro.write_tflm,
        micro_int8.VARIANT: micro_int8.write_tflm_int8,
    },
    step_writer=step.write_step,
)
