"""edgernn.runtime: load a bundle and run it with numpy and one runtime. Never imports TF or Keras.

from edgernn.runtime import load
p = load("models/seed-lstm")
p.predict([[[6.0], [7.0], [8.0], [9.0]]])

`import edgernn.runtime` imports nothing: every name below is imported on first use (PEP 562), so
an application pays only for what it touches (cold start, benchmarks/cold_start.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [  # each imported on first use (__getattr__)
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
    "ModelLoadError",
    "ModelRunError",
    "RunTimeoutError",
    "SignatureError",
    "UnsupportedModelError",
]
# public name -> the submodule that defines it (the names after Stream are the error types)
_LAZY = {
    **dict(zip(__all__, ("loading", "bundle", "manifest", "manifest", "predictor", "stream"))),
    **dict.fromkeys(__all__[6:], "errors"),
}

if TYPE_CHECKING:
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
    from .stream import Stream

__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the submodule defining `name` on first use, and keep the name here from then on."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
