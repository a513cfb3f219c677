"""`edgernn export`'s flags -> ExportOptions keywords: only what was given, so a re-export inherits the rest.

A flag left out is left out of the options: export/source.py then fills it from the source bundle
(re-export) or ExportOptions' default (a bare .keras file).
"""

from __future__ import annotations

from typing import Any


def _one_or_list(values: list[float] | None) -> float | list[float] | None:
    if values is None:
        return None
    return values[0] if len(values) == 1 else values


def mapping_keywords(args) -> dict[str, Any]:
    """The preprocessing keywords the command line gave (--preprocessing first, the flags over it)."""
    out: dict[str, Any] = {}
    if getattr(args, "preprocessing", None):
        from edgernn.export.source import read_preprocessing

        out.update(read_preprocessing(args.preprocessing))
    for name in ("scale", "offset", "output_scale", "output_offset"):
        value = _one_or_list(getattr(args, name, None))
        if value is not None:
            out[name] = value
    return out


def export_keywords(args, calibration) -> dict[str, Any]:
    """Every ExportOptions keyword of an `edgernn export` command line."""
    return {
        "formats": tuple(args.formats.split(",")),
        "streaming": args.streaming,
        "quantize": args.quantize,
        "calibration": calibration,
        "max_error": args.max_error,
        "override_preprocessing": getattr(args, "override_preprocessing", False),
        **({"timesteps": args.timesteps} if getattr(args, "timesteps", None) else {}),
        **mapping_keywords(args),
    }
