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


def save_keras(model, path: Path) -> Path:
    """model.save(path), then the same bytes for the same model: a .keras file is a zip whose entries
    carry the save time, `metadata.json` its `date_saved`, and `config.json` Python object ids as
    `shared_object_id` (renumbered here in order of appearance, which keeps the sharing)."""
    import io
    import json
    import re
    import zipfile

    model.save(path)
    with zipfile.ZipFile(path) as zin:
        items = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    ids: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        key = match.group(1).decode()
        return f'"shared_object_id": {ids.setdefault(key, str(len(ids) + 1))}'

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            if name == "config.json":
                data = re.sub(rb'"shared_object_id": (\d+)', lambda m: renumber(m).encode(), data)
            elif name == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "1980-01-01@00:00:00"  # the manifest's 'created' says when
                data = json.dumps(meta).encode()
            zout.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    Path(path).write_bytes(buffer.getvalue())
    return Path(path)
