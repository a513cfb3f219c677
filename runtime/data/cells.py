"""What a cell and a column of a series file hold: missing, a number, a date, a clock.

`classify(name, cells)` decides a CSV column's kind once (numeric, time index, date, text, empty);
train/series.py builds the training Table from those kinds and runtime/data/source.py reads the
columns a bundle needs from them (scoring, validate --data, predict --series).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-", "--", "inf", "-inf", "+inf", "#n/a"}
TIME_NAMES = {"date", "time", "timestamp", "datetime", "year", "month", "day", "index", "period", "epoch"}
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%H:%M:%S",
    "%H:%M",
    "%Y-%m",
    "%b %Y",
    "%d %b %Y",
)
DATE_SAMPLE = 50  # cells checked when deciding whether a text column holds dates


def number(cell: str) -> float | None:
    """The cell as a float, NaN when missing, None when it is not a number."""
    text = cell.strip()
    if text.lower() in MISSING:
        return float("nan")
    if "_" in text:  # float() accepts '1_000'; in a CSV that is text
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else float("nan")


def is_date(cell: str) -> bool:
    text = cell.strip()
    if not re.search(r"\d", text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


def date_seconds(cells: list[str]) -> np.ndarray:
    """Dates/times as seconds (naive ones read as UTC); NaN where missing or unreadable."""
    out = np.full(len(cells), np.nan)
    fmt = None  # the first format that works is tried first on the next cell
    for i, cell in enumerate(cells):
        text = cell.strip()
        if text.lower() in MISSING:
            continue
        stamp = None
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for f in ((fmt,) if fmt else ()) + DATE_FORMATS:
                try:
                    stamp, fmt = datetime.strptime(text, f), f
                    break
                except ValueError:
                    continue
        if stamp is not None:
            out[i] = (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()
    return out


def looks_like_time_index(name: str, values: np.ndarray) -> bool:
    words = set(re.split(r"[^a-z]+", name.lower()))
    finite = values[np.isfinite(values)]
    return bool(words & TIME_NAMES) and finite.size > 1 and bool(np.all(np.diff(finite) > 0))


def classify(name: str, cells: list[str]) -> tuple[str, np.ndarray | None]:
    """(kind, float values or None) for one CSV column."""
    numbers = [number(c) for c in cells]
    present = [c for c in cells if c.strip().lower() not in MISSING]
    if not present:
        return "empty", None
    if all(v is not None for v in numbers):
        values = np.asarray(numbers, dtype=np.float64)
        return ("time index" if looks_like_time_index(name, values) else "numeric"), values
    sample = present[:DATE_SAMPLE]
    return ("date" if all(is_date(c) for c in sample) else "text"), None
