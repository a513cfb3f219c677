"""Reading and writing manifest.json text: duplicate keys refused, numpy scalars written as numbers.

Reading runs the C scanner that `json.loads` itself uses (`_json.make_scanner`), without importing
the `json` package: its decoder and encoder modules compile six regular expressions at import, about
1 ms of a ~5 ms cold start (benchmarks/cold_start.py). Anything the scanner refuses goes through
`json.loads`, so every error reads exactly as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ManifestError

_WHITESPACE = " \t\n\r"  # JSON's whitespace, as json.decoder skips it before and after the value
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}  # as json.loads


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # the one pass every object of a load takes; keys are counted only when one repeats
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"key {repeated[0]!r} appears more than once (JSON parsers disagree on which wins)")
    return out


class _Context:
    """What `_json.make_scanner` reads from a JSONDecoder: json.loads' defaults, duplicate keys refused."""

    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(unique_keys)
    parse_float, parse_int = float, int
    parse_constant = staticmethod(_CONSTANTS.__getitem__)


def _scan(text: str) -> Any:
    """`json.loads(text, object_pairs_hook=unique_keys)` on the C scanner; json.loads for every error."""
    try:
        from _json import make_scanner
    except ImportError:  # a Python without the C accelerator: the json package it is
        make_scanner = None
    if make_scanner is not None:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = make_scanner(_Context())(text, start)
        except (StopIteration, ValueError):
            pass  # json.loads below says what is wrong, in its own words
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text, object_pairs_hook=unique_keys)


def read_json(data: bytes, path: str) -> Any:
    """manifest.json's object; duplicate keys are refused, not silently last-wins."""
    try:
        return _scan(data.decode("utf-8"))
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
