"""Reading and writing manifest.json text: duplicate keys refused, numpy scalars written as numbers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .errors import ManifestError


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"key {repeated[0]!r} appears more than once (JSON parsers disagree on which wins)")
    return dict(pairs)


def read_json(data: bytes, path: str) -> Any:
    """manifest.json's object; duplicate keys are refused, not silently last-wins."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise ManifestError(
            f"{path} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}); re-export the bundle."
        ) from None


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")
