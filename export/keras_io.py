"""Loading .keras files safely."""

from __future__ import annotations

from pathlib import Path

from edgernn.runtime import optional
from edgernn.runtime.errors import ExportError


def load_keras(path: str | Path):
    """Load a .keras file with safe_mode=True (no arbitrary code: Lambda layers are refused).

    Raises:
        ExportError: missing file, wrong type, or a layer that safe mode refuses.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise ExportError(f"{path}: no such .keras file.")
    if path.suffix != ".keras":
        raise ExportError(f"{path}: expected a .keras file (Keras 3 format); got {path.suffix or 'no suffix'}.")
    keras = optional.require("keras", "exporting")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:
        text = str(exc)
        if "Lambda" in text or "safe_mode" in text:
            raise ExportError(
                f"{path}: refused to load with safe_mode=True ({text.splitlines()[0]}). Lambda layers run "
                "arbitrary code; rebuild the model from supported layers."
            ) from exc
        raise ExportError(f"{path}: cannot load the Keras model ({type(exc).__name__}: {text[:300]}).") from exc
