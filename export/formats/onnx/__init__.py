"""ONNX: tf2onnx's graphs (convert.py), int8 by the best of three quantizers (quantize.py), the step model."""

from ..base import Format
from . import convert, quantize, step

FORMAT = Format(
    name="onnx",
    forms=convert.forms,
    write=convert.write,
    variants={"int8": quantize.write_variant},
    step_writer=step.write_step,
)
