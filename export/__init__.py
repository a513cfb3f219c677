"""edgernn.export: Keras -> TFLite / ONNX bundles, each artifact proven against Keras (needs TF)."""
from .bundle import export_bundle
from .formats import FORMAT_NAMES, FORMATS
from .keras_io import load_keras
from .model_info import ModelInfo, UnsupportedLayerError, clone_with, inspect_model

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "ModelInfo",
    "UnsupportedLayerError",
    "clone_with",
    "export_bundle",
    "inspect_model",
    "load_keras",
]
