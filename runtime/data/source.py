"""Series files read by row range: CSV, NPY and Parquet, one column at a time, memory bounded by the range.

    src = open_source("data/sunspots.csv")
    src.rows, src.columns                 # data rows (header excluded), column names in file order
    src.read(100, 200, ["SUNACTIVITY"])   # {"SUNACTIVITY": float64 (100,)}, NaN where a cell is missing

Rows are counted from 0 after the header, as `edgernn train` counts them (the manifest's split
rows and `evaluation.predictions.row` use the same numbering). A date column is read as seconds
(naive dates as UTC). A cell that is neither missing (runtime/data/cells.py MISSING) nor a number
is an InputError naming the file, the row, the line and the column. CSV rows must be one per line
(no quoted line breaks); NPY is memory-mapped; Parquet needs pyarrow (`pip install 'edgernn[ray]'`
brings it, or `pip install pyarrow`) and reads only the row groups a range touches.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .. import optional
from ..errors import InputError
from .cells import MISSING, date_seconds, is_date, number

INDEX_EVERY = 4096  # CSV: the byte offset of every 4096th row is kept, so a range read skips < 4096 lines
SCAN_BYTES = 8 << 20


class Source(Protocol):
    """A series file: `rows`, `columns`, and `read(start, stop, names)` -> float64 arrays per name."""

    path: Path
    rows: int
    columns: list[str]

    def read(self, start: int, stop: int, names: Sequence[str]) -> dict[str, np.ndarray]: ...


def open_source(path: str | Path) -> Source:
    """The reader for `path` by suffix (.csv/.tsv/.txt, .npy, .parquet/.pq).

    Raises:
        InputError: no such file, an unknown suffix, or a file its reader cannot open.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--data {path}: no such file; expected a .csv, .npy or .parquet series file.")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return CsvSource(path)
    if suffix == ".npy":
        return NpySource(path)
    if suffix in (".parquet", ".pq"):
        return ParquetSource(path)
    raise InputError(f"{path}: unknown file type {suffix!r}; expected .csv (or .tsv/.txt), .npy or .parquet.")


def unknown_columns(source: Source, names: Sequence[str], why: str) -> None:
    """InputError when a column in `names` is not in the file (what was expected, what came, the fix)."""
    missing = [n for n in names if n not in source.columns]
    if missing:
        raise InputError(
            f"{source.path}: no column {missing} ({why}); the file has columns {source.columns}. "
            "Rename the columns, or pass --columns to map the bundle's inputs to this file's columns."
        )


def to_numbers(path: Path, name: str, cells: Sequence[str], first_row: int, header: bool) -> np.ndarray:
    """CSV cells of one column as float64 (NaN where missing); InputError at the first non-number."""
    try:
        values = np.asarray(cells, dtype=np.float64)  # fast path: every cell a plain number
    except ValueError:
        values = np.empty(len(cells))
        for i, cell in enumerate(cells):
            v = number(cell)
            if v is None:
                row = first_row + i
                raise InputError(
                    f"{path}: row {row} (line {row + 1 + header}), column {name!r}: {cell.strip()!r} is not a "
                    "number; expected a number or an empty/NA cell. Fix the cell, or drop the row."
                ) from None
            values[i] = v
    values[~np.isfinite(values)] = np.nan
    return values


class CsvSource:
    """A CSV read by row range through an index of line offsets built in one pass over the bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as fh:
            head = fh.read(1 << 16).decode("utf-8-sig", errors="replace")
        try:
            self.dialect = csv.Sniffer().sniff(head[:4096], delimiters=",;\t")
        except csv.Error:
            self.dialect = csv.excel
        lines = head.splitlines()
        first = next(csv.reader(lines[:1], self.dialect), []) if lines else []
        if not first:
            raise InputError(f"{path}: the file has no rows; expected a header line and one row per time step.")
        self.header = any(number(c) is None for c in first)
        names = [c.strip() or f"column{i}" for i, c in enumerate(first)] if self.header else None
        self.columns = names or [str(i) for i in range(len(first))]
        self._offsets, self.rows = self._index()

    def _index(self) -> tuple[list[tuple[int, int]], int]:
        """(offset, lines to skip from it) for rows 0, INDEX_EVERY, 2 x INDEX_EVERY, ...; and the data rows.

        One pass over the bytes counting newlines with numpy; only every INDEX_EVERY-th line start is kept.
        """
        starts, line, last = [], 0, b"\n"  # offsets of lines 0, INDEX_EVERY, ... (line 0: header or row 0)
        with open(self.path, "rb") as fh:
            if fh.read(3) != b"\xef\xbb\xbf":
                fh.seek(0)
            pos = fh.tell()
            starts.append(pos)
            while block := fh.read(SCAN_BYTES):
                nl = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
                kept = np.flatnonzero((line + 1 + np.arange(nl.size)) % INDEX_EVERY == 0)  # the next line's number
                starts += (pos + nl[kept] + 1).tolist()
                line, pos, last = line + nl.size, pos + len(block), block[-1:]
        lines = line + (last != b"\n")  # a last line without its newline still counts
        skip = int(self.header)
        rows = max(lines - skip, 0)
        offsets = []
        for r in range(0, rows, INDEX_EVERY):  # row r is line r + skip
            k = (r + skip) // INDEX_EVERY
            offsets.append((starts[k], r + skip - k * INDEX_EVERY))
        return offsets, rows

    def read(self, start: int, stop: int, names: Sequence[str]) -> dict[str, np.ndarray]:
        start, stop = max(start, 0), min(stop, self.rows)
        if stop <= start:
            return {n: np.zeros(0) for n in names}
        offset, skip = self._offsets[start // INDEX_EVERY]
        skip += start % INDEX_EVERY
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
            for _ in range(skip):
                text.readline()
            lines = [text.readline() for _ in range(stop - start)]
        rows = list(csv.reader(lines, self.dialect))
        out = {}
        for name in names:
            j = self.columns.index(name)
            cells = [r[j] if j < len(r) else "" for r in rows]
            out[name] = self._column(name, cells, start)
        return out

    def _column(self, name: str, cells: list[str], start: int) -> np.ndarray:
        present = next((c for c in cells if c.strip().lower() not in MISSING), None)
        if present is not None and number(present) is None and is_date(present):
            return date_seconds(cells)  # a date column (the clock)
        return to_numbers(self.path, name, cells, start, self.header)


class NpySource:
    """A .npy array, memory-mapped: 1-D (column '0'), 2-D (columns '0', '1', ...) or structured (field names)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: cannot read it as a .npy array without pickle ({exc}).") from None
        arr = self.array
        if arr.dtype.names:
            self.columns = list(arr.dtype.names)
        elif arr.ndim in (1, 2):
            self.columns = [str(j) for j in range(1 if arr.ndim == 1 else arr.shape[1])]
        else:
            raise InputError(f"{path}: expected a 1-D or 2-D array (rows x columns), got shape {arr.shape}.")
        self.rows = int(arr.shape[0])

    def read(self, start: int, stop: int, names: Sequence[str]) -> dict[str, np.ndarray]:
        part = self.array[max(start, 0) : min(stop, self.rows)]
        out = {}
        for name in names:
            col = part[name] if self.array.dtype.names else part.reshape(len(part), -1)[:, self.columns.index(name)]
            if col.dtype.kind == "M":
                col = col.astype("datetime64[ns]").astype(np.int64) / 1e9
            elif col.dtype.kind not in "biuf":
                raise InputError(
                    f"{self.path}: column {name!r} holds {col.dtype} values, not numbers; expected a numeric column."
                )
            values = np.asarray(col, dtype=np.float64)
            out[name] = np.where(np.isfinite(values), values, np.nan)
        return out


class ParquetSource:
    """A Parquet file read by row groups (pyarrow): only the groups a range touches are decoded."""

    def __init__(self, path: Path) -> None:
        pq = optional.require("pyarrow.parquet", f"reading {path}")
        self.path = path
        try:
            self.file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for anything that is not Parquet
            raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc}).") from None
        meta = self.file.metadata
        self.columns = list(self.file.schema_arrow.names)
        self.rows = int(meta.num_rows)
        self._starts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])

    def read(self, start: int, stop: int, names: Sequence[str]) -> dict[str, np.ndarray]:
        start, stop = max(start, 0), min(stop, self.rows)
        if stop <= start:
            return {n: np.zeros(0) for n in names}
        first = int(np.searchsorted(self._starts, start, side="right") - 1)
        last = int(np.searchsorted(self._starts, stop, side="left"))
        try:
            table = self.file.read_row_groups(list(range(first, last)), columns=list(names))
        except Exception as exc:
            raise InputError(f"{self.path}: row groups {first}..{last - 1} unreadable ({exc}).") from None
        lo = start - int(self._starts[first])
        out = {}
        for name in names:
            col = table.column(name).slice(lo, stop - start)
            out[name] = self._numbers(name, col)
        return out

    def _numbers(self, name: str, col) -> np.ndarray:
        import pyarrow as pa

        kind = col.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            col = col.cast(pa.timestamp("ns")).cast(pa.int64())
            return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64) / 1e9
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise InputError(f"{self.path}: column {name!r} has type {kind}, not numbers; expected a numeric column.")
        values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        return np.where(np.isfinite(values), values, np.nan)


class ArraySource:
    """An in-memory (rows, columns) array as a Source: stdin series and tests."""

    def __init__(self, values: np.ndarray, columns: Sequence[str], path: str = "<stdin>") -> None:
        self.path, self.columns = Path(path), list(columns)
        self.values = np.asarray(values, dtype=np.float64).reshape(len(values), len(self.columns))
        self.rows = int(len(self.values))

    def read(self, start: int, stop: int, names: Sequence[str]) -> dict[str, np.ndarray]:
        part = self.values[max(start, 0) : min(stop, self.rows)]
        return {n: np.where(np.isfinite(c := part[:, self.columns.index(n)]), c, np.nan) for n in names}
