"""Plain-text tables for the CLI (no dependency, so a runtime-only install can print them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..checks import printable


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) < 1e-3 or abs(value) >= 1e5:
            return f"{value:.2e}"
        return f"{value:.4g}"
    return "-" if value is None else printable(value)  # names from a manifest may hold ANSI escapes


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """A fixed-width table: headers, a rule, one line per row."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda items: "  ".join(s.ljust(w) for s, w in zip(items, widths)).rstrip()  # noqa: E731
    out = ([title] if title else []) + [line(headers), line("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)
