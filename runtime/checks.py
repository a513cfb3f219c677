"""Field checks for manifest.json: each returns the checked value or raises ManifestError naming it.

They know nothing of the manifest's records (runtime/manifest.py builds those from what they return),
so every message has one shape: where, which field, what came, what was expected.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from .errors import ManifestError

Where = object  # a path or a label: only printed
_HEX = frozenset("0123456789abcdef")


def obj(value: Any, what: str, where: Where) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: {what} must be an object, got {type(value).__name__}.")
    return value


def name(value: Any, what: str, where: Where) -> str:
    if not (isinstance(value, str) and value):
        raise ManifestError(f"{where}: {what} is {value!r}; expected a name.")
    return value


def positive_int(value: Any, what: str, where: Where) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise ManifestError(f"{where}: {what} is {value!r}; expected a positive integer.")
    return value


def size(value: Any, what: str, where: Where) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ManifestError(f"{where}: {what} has bytes {value!r}; expected a non-negative integer.")
    return value


def sha256(value: Any, what: str, where: Where) -> str:
    if not (isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)):
        raise ManifestError(f"{where}: {what} has sha256 {value!r}; expected 64 lowercase hex digits.")
    return value


def finite(value: Any, what: str, where: Where, *, minimum: float | None = None) -> float:
    """A finite number (>= minimum when given); booleans are not numbers here."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum):
        bound = "non-negative " if minimum == 0 else ""
        raise ManifestError(f"{where}: {what} {value!r}; expected a finite {bound}number.")
    return float(value)


def boolean(value: Any, what: str, where: Where) -> bool:
    if not isinstance(value, bool):
        raise ManifestError(f"{where}: {what} is {value!r}; expected true or false.")
    return value


def string_list(value: Any, what: str, where: Where, example: str) -> tuple[str, ...]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ManifestError(f"{where}: {what} is {value!r}; expected a list of {example}.")
    return tuple(value)


def file_fields(raw: dict, what: str, where: Where) -> tuple[str, int, str]:
    """(file, bytes, sha256) of a manifest entry, each checked: what a FileEntry and an ArtifactEntry share."""
    return (
        file_name(raw.get("file"), where),
        size(raw.get("bytes"), what, where),
        sha256(raw.get("sha256"), what, where),
    )


def file_name(value: Any, where: Where) -> str:
    """`value` if it is a plain file name inside the bundle (no '..', separators or absolute paths)."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise ManifestError(f"{where}: file name {value!r} is not a plain file name.")
    bad = "/" in value or "\\" in value or ".." in value or os.path.isabs(value) or "\x00" in value
    if bad or (os.sep in value) or (os.altsep and os.altsep in value):
        raise ManifestError(
            f"{where}: file name {value!r} must be a plain name inside the bundle (no '..', separators "
            "or absolute paths)."
        )
    return value


def channels(entry: Any, size_: int, what: str, where: Where) -> tuple[list[float], list[float]]:
    """preprocessing.<what>: (offset, scale), each 1 or `size_` finite numbers, no scale 0 (even as float32)."""
    if not isinstance(entry, dict) or "scale" not in entry or "offset" not in entry:
        raise ManifestError(f"{where}: preprocessing.{what} needs 'scale' and 'offset'.")
    extra = sorted(set(entry) - {"scale", "offset"})
    if extra:  # a step this runtime would silently skip (clipping, a log) would give wrong answers
        raise ManifestError(
            f"{where}: preprocessing.{what} has keys {extra} this edgernn does not apply "
            "(it knows 'offset' and 'scale'); upgrade edgernn or re-export the bundle."
        )
    arrays = []
    for key in ("offset", "scale"):
        value = entry[key]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ManifestError(f"{where}: preprocessing.{what}.{key} is {value!r}; expected numbers.")
        if len(values) not in (1, size_):
            raise ManifestError(f"{where}: preprocessing.{what}.{key} has {len(values)} values; expected 1 or {size_}.")
        problem = affine_problem(values, key)
        if problem:
            raise ManifestError(f"{where}: preprocessing.{what}.{key} is {value!r}; {problem}.")
        arrays.append([float(v) for v in values])
    return arrays[0], arrays[1]


SCALE_BOUNDS = (1e-12, 1e12)  # |scale|: every real normalisation; outside it float32 math overflows or flushes
OFFSET_BOUND = 1e30


def affine_problem(values: list[float], key: str) -> str:
    """Why preprocessing numbers cannot be used in float32 math ('' when they can): the float64 check
    alone let `scale: 1e39` through, which is inf as float32."""
    if not all(math.isfinite(v) for v in values):
        return "values must be finite"
    if key == "scale":
        low, high = SCALE_BOUNDS
        bad = [v for v in values if not low <= abs(v) <= high]
        if bad:
            return (
                f"each |scale| must lie in [{low:g}, {high:g}] (0 and values outside overflow float32), got {bad[:3]}"
            )
    elif any(abs(v) > OFFSET_BOUND for v in values):
        return f"each |offset| must be at most {OFFSET_BOUND:g}"
    return ""


def printable(text: object) -> str:
    """`text` safe for a terminal and any encoding: control characters (ANSI escapes) and lone
    surrogates (undecodable file names) shown escaped, never interpreted or raising."""
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else repr(c)[1:-1] for c in str(text))


def printable_text(text: object) -> str:
    """`printable` line by line: the newlines of a table stay, every other control character is escaped."""
    return "\n".join(printable(line) for line in str(text).split("\n"))
