"""edgernn.runtime: load a bundle and run it with numpy and one runtime. Never imports TF or Keras."""
from .errors import (
    BackendUnavailableError,
    EdgeRNNError,
    ExportError,
    InputError,
    IntegrityError,
    ManifestError,
    MissingExtraError,
    ModelLoadError,
    ModelRunError,
    UnsupportedModelError,
)
from .predictor import Predictor, load

__all__ = [
    "load",
    "Predictor",
    "BackendUnavailableError",
    "EdgeRNNError",
    "ExportError",
    "InputError",
    "IntegrityError",
    "ManifestError",
    "MissingExtraError",
    "ModelLoadError",
    "ModelRunError",
    "UnsupportedModelError",
]
__version__ = "0.1.0"
