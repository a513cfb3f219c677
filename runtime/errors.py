"""The error types of edgernn.

Every error the package raises on purpose derives from `EdgeRNNError`, so an application can catch
one type and keep serving. Messages say what was expected, what came, and how to fix it.
"""

from __future__ import annotations


class EdgeRNNError(Exception):
    """Base class of every error edgernn raises on purpose."""


class InputError(EdgeRNNError, ValueError):
    """The data passed to `predict` (or a stream step) does not fit the model."""


class ModelLoadError(EdgeRNNError):
    """A model file could not be read or parsed by the runtime."""


class ModelRunError(EdgeRNNError, RuntimeError):
    """The runtime failed while running a loaded model (the model file is damaged or hostile)."""


class RunTimeoutError(ModelRunError, TimeoutError):
    """A call did not finish within the `timeout` it was given; the runtime stopped it, the model stays usable."""


class IntegrityError(EdgeRNNError):
    """A file's bytes do not match the sha256 or size recorded in the manifest."""


class SignatureError(EdgeRNNError):
    """A bundle that must be signed is unsigned, or its signature does not verify with a trusted key."""


class ManifestError(EdgeRNNError):
    """manifest.json is missing, malformed, or disagrees with the files."""


class UnsupportedModelError(EdgeRNNError):
    """The model uses a layer, option, op or feature that edgernn does not run or export."""


class ExportError(EdgeRNNError):
    """An export failed; no partial bundle was written."""


class BackendUnavailableError(EdgeRNNError, ImportError):
    """The requested runtime backend is not installed."""


class MissingExtraError(EdgeRNNError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""
