"""edgernn.runtime: load a bundle and run it with numpy and one runtime. Never imports TF or Keras.

from edgernn.runtime import load
p = load("models/seed-lstm")
p.predict([[[6.0], [7.0], [8.0], [9.0]]])

`import edgernn.runtime` imports nothing: every name below is imported on first use (PEP 562), so
an application pays only for what it touches (cold start, benchmarks/cold_start.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# public name -> the submodule that defines it
_LAZY = {
    "load": "loading",
    "Bundle": "bundle",
    "Manifest": "manifest",
    "ArtifactEntry": "manifest",
    "Predictor": "predictor",
    "Stream": "stream",
    **dict.fromkeys(
        (
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
        ),
        "errors",
    ),
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

__all__ = [  # the names of _LAZY, spelled out for linters and readers
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
