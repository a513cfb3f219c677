"""The format registry: one folder per format (converter, quantizer, step writer side by side).

Adding a format is one folder with a `FORMAT` record and one line here; every other place
(export_bundle, variants, streaming, the tests' matrix) reads this table.
"""

from edgernn.runtime.errors import ExportError

from .base import (
    FLOAT32,
    QUANTIZED,
    STEP_INPUT,
    STEP_OUTPUT,
    Format,
    GraphForm,
    StepSource,
    Target,
    VariantJob,
    file_entry,
    file_fields,
    try_forms,
)
from .c import FORMAT as C
from .numpy import FORMAT as NUMPY
from .onnx import FORMAT as ONNX
from .tflite import FORMAT as TFLITE

FORMATS: dict[str, Format] = {f.name: f for f in (TFLITE, ONNX, NUMPY, C)}
FORMAT_NAMES = tuple(FORMATS)
DEFAULT_FORMATS = ("tflite", "onnx", "numpy")  # what an export writes unless told: C is asked for by name


def get_format(name: str) -> Format:
    """The registered format `name`, or ExportError listing the known ones."""
    if name not in FORMATS:
        raise ExportError(f"unknown format {name!r}; expected one of {FORMAT_NAMES}.")
    return FORMATS[name]


__all__ = [
    "FLOAT32",
    "FORMATS",
    "DEFAULT_FORMATS",
    "FORMAT_NAMES",
    "QUANTIZED",
    "STEP_INPUT",
    "STEP_OUTPUT",
    "Format",
    "GraphForm",
    "StepSource",
    "Target",
    "VariantJob",
    "file_entry",
    "file_fields",
    "get_format",
    "try_forms",
]
