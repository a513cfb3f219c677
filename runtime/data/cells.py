"""What a cell and a column of a series file hold: missing, a number, a date, a clock.

`classify(name, cells)` decides a CSV column's kind once (numeric, time index, date, text, empty);
train/series.py builds the training Table from those kinds and runtime/data/source.py reads the
columns a bundle needs from them (scoring, validate --data, predict --series). A date column is read
in ONE format, inferred from all its cells (or given with --date-format): a column whose cells need
two formats, or that reads two ways (01/02/2020: January 2 or February 1?), is a DateFormatError,
never guessed cell by cell.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np

from edgernn.runtime.errors import InputError

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-", "--", "inf", "-inf", "+inf", "#n/a"}
TIME_NAMES = {"date", "time", "timestamp", "datetime", "year", "month", "day", "index", "period", "epoch"}
ISO = "iso"  # datetime.fromisoformat: 2020-01-31, 2020-01-31T13:00, 2020-01-31 13:00:00+02:00
DATE_FORMATS = (
    ISO,
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M",
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


class DateFormatError(InputError):
    """A date column whose cells fit no single format, or fit two that read them differently."""


def parse_date(text: str, fmt: str) -> datetime | None:
    """One cell in one format, or None when it does not fit."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if fmt == ISO else datetime.strptime(text, fmt)
    except ValueError:
        return None


def _fits(cells: list[str], fmt: str) -> bool:
    return all(parse_date(c, fmt) is not None for c in cells)


def is_date(cell: str) -> bool:
    text = cell.strip()
    return bool(re.search(r"\d", text)) and any(parse_date(text, f) is not None for f in DATE_FORMATS)


def date_format(name: str, cells: list[str], given: str | None = None) -> str:
    """The one format every present cell of a date column is read with (`given`, or inferred).

    Raises:
        DateFormatError: no format fits every cell (mixed formats), or day-first and month-first both
            fit (ambiguous): the message shows cells and asks for --date-format.
    """
    present = [c.strip() for c in cells if c.strip().lower() not in MISSING]
    if given:
        bad = [c for c in present if parse_date(c, given) is None]
        if bad:
            raise DateFormatError(
                f"column {name!r}: {len(bad)} cells do not fit --date-format {given!r} (e.g. {bad[:3]}); "
                "fix those cells or give the format they are written in."
            )
        return given
    sample = present[:DATE_SAMPLE]
    fitting = [f for f in DATE_FORMATS if _fits(sample, f) and _fits(present, f)]
    if not fitting:
        seen = {f: next((c for c in present if parse_date(c, f) is not None), None) for f in DATE_FORMATS}
        kinds = {f: c for f, c in seen.items() if c is not None}
        raise DateFormatError(
            f"column {name!r} mixes date formats (no single one reads every cell; cells fit "
            f"{', '.join(f'{f} (e.g. {c!r})' for f, c in list(kinds.items())[:3])}). Write the column in one "
            "format, or pass --date-format for the one most cells use after fixing the rest."
        )
    readings = {f: [parse_date(c, f) for c in present] for f in fitting}
    distinct = {f for f in fitting if readings[f] != readings[fitting[0]]}
    if distinct:
        a, b = fitting[0], sorted(distinct)[0]
        example = next(c for c, x, y in zip(present, readings[a], readings[b]) if x != y)
        raise DateFormatError(
            f"column {name!r} is ambiguous: {example!r} reads as {readings[a][present.index(example)]:%Y-%m-%d} "
            f"with {a} and as {readings[b][present.index(example)]:%Y-%m-%d} with {b}, and every cell fits "
            f"both. Pass --date-format {a!r} or --date-format {b!r}."
        )
    return fitting[0]


def date_seconds(cells: list[str], fmt: str) -> np.ndarray:
    """Dates/times in one format as seconds (naive ones read as UTC); NaN where missing."""
    out = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        text = cell.strip()
        stamp = None if text.lower() in MISSING else parse_date(text, fmt)
        if stamp is not None:
            out[i] = (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()
    return out


def looks_like_time_index(name: str, values: np.ndarray) -> bool:
    words = set(re.split(r"[^a-z]+", name.lower()))
    finite = values[np.isfinite(values)]
    return bool(words & TIME_NAMES) and finite.size > 1 and bool(np.all(np.diff(finite) > 0))


def classify(name: str, cells: list[str], given_format: str | None = None) -> tuple[str, np.ndarray | None, str]:
    """(kind, values, date format) for one CSV column: floats for numbers, seconds for dates, else None.

    Raises:
        DateFormatError: a date column with mixed or ambiguous formats (see `date_format`).
    """
    numbers = [number(c) for c in cells]
    present = [c for c in cells if c.strip().lower() not in MISSING]
    if not present:
        return "empty", None, ""
    if all(v is not None for v in numbers):
        values = np.asarray(numbers, dtype=np.float64)
        return ("time index" if looks_like_time_index(name, values) else "numeric"), values, ""
    sample = present[:DATE_SAMPLE]
    if not all(is_date(c) or (given_format and parse_date(c.strip(), given_format)) for c in sample):
        return "text", None, ""
    fmt = date_format(name, cells, given_format)
    return "date", date_seconds(cells, fmt), fmt
