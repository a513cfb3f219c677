"""edgernn.runtime: load a bundle and run it with numpy and one runtime. Never imports TF or Keras.

from edgernn.runtime import load
p = load("models/seed-lstm")
p.predict([[[6.0], [7.0], [8.0], [9.0]]])
"""

from .bundle import Bundle
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
    RunTimeoutError,
    SignatureError,
    UnsupportedModelError,
)
from .loading import load
from .manifest import ArtifactEntry, Manifest
from .predictor import Predictor

__all__ = [
    "load",
    "Bundle",
    "Manifest",
    "ArtifactEntry",
    "Predictor",
    "Stream",
    "BackendUnavailableError",
    "EdgeRNNError",
    "ExportError",
    "InputError",
    "IntegrityError",
    "ManifestError",
    "MissingExtraError",
    "SignatureError",
    "ModelLoadError",
    "ModelRunError",
    "RunTimeoutError",
    "UnsupportedModelError",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """`Stream` is imported on first use: a predict-only app never loads streaming (cold start)."""
    if name == "Stream":
        from .stream import Stream

        return Stream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
