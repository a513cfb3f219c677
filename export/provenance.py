"""What the manifest records about how a bundle was made: when, and by which versions of what."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from typing import Any


def _versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version()}
    dists = (
        "edgernn",
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "tf2onnx",
        "onnx",
        "onnxruntime",
        "ai-edge-litert",
        "numpy",
    )
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(extra: Mapping[str, Any]) -> dict[str, Any]:
    """created, producer versions, then the caller's own top-level keys (ExportOptions.extra)."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"created": created, "producer": _versions(), **extra}
