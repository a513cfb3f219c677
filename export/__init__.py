"""edgernn.export: Keras -> TFLite / ONNX / numpy bundles, each artifact proven against Keras (needs TF).

from edgernn.export import ExportOptions, export_bundle
result = export_bundle(model, "out/my-gru", ExportOptions(scale=0.1, streaming=True))
"""

from .bundle import ExportOptions, ExportResult, export_bundle
from .formats import FORMAT_NAMES, FORMATS, Format, get_format
from .keras_io import load_keras
from .model_info import ModelInfo, UnsupportedLayerError, clone_with, inspect_model

__all__ = [
    "ExportOptions",
    "ExportResult",
    "FORMATS",
    "FORMAT_NAMES",
    "Format",
    "ModelInfo",
    "UnsupportedLayerError",
    "clone_with",
    "export_bundle",
    "get_format",
    "inspect_model",
    "load_keras",
]
