"""Read a table of time series from CSV or NumPy files, without pandas.

Rows are time steps, oldest first. Every column is classified once:

- `numeric`: every non-missing cell parses as a number;
- `time index`: a numeric column named like a clock (date, time, year, ...) whose values strictly
  increase; it orders rows and is not a feature unless asked for by name;
- `date`: text cells that parse as dates or times; `text`: anything else; `empty`: no value at all.

Missing cells (empty, NA, NaN, null, ?, inf) become NaN; `edgernn.train.windows` decides what to do
with them. Only numeric columns (and a time index named explicitly) can be selected.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgernn.runtime.data.cells import classify, date_seconds, looks_like_time_index, number
from edgernn.runtime.errors import InputError


@dataclass(frozen=True)
class Table:
    """A numeric view of a series file: `values[:, j]` is column `names[j]` (NaN where missing)."""

    path: str
    names: tuple[str, ...]
    values: np.ndarray  # (rows, numeric columns) float64
    kinds: dict[str, str] = field(default_factory=dict)  # every column of the file -> its kind
    # date / time index columns as numbers (NaN if unreadable)
    clocks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    def numeric(self) -> list[str]:
        """Columns usable as features by default (numeric, not a time index)."""
        return [n for n in self.names if self.kinds.get(n) == "numeric"]

    def skipped(self) -> dict[str, str]:
        """Columns left out of the default selection, with their kind."""
        return {n: k for n, k in self.kinds.items() if k != "numeric"}

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def clock(self) -> tuple[str, np.ndarray] | None:
        """The first date or time-index column whose readable values strictly increase, as numbers."""
        for name, t in self.clocks.items():
            finite = t[np.isfinite(t)]
            if finite.size > 2 and np.all(np.diff(finite) > 0):
                return name, t
        return None


def _build(
    path: str,
    rows: int,
    names: Sequence[str],
    columns: Sequence[np.ndarray | None],
    kinds: dict[str, str],
    clocks: dict[str, np.ndarray] | None = None,
) -> Table:
    keep = [(n, c) for n, c in zip(names, columns) if c is not None]
    values = np.stack([c for _, c in keep], axis=1) if keep else np.zeros((rows, 0))
    return Table(path=path, names=tuple(n for n, _ in keep), values=values, kinds=kinds, clocks=clocks or {})


def _unique_names(header: Sequence[str]) -> list[str]:
    names: list[str] = []
    for i, raw in enumerate(header):
        name = raw.strip() or f"column{i}"
        names.append(name if name not in names else f"{name}.{i}")
    return names


def read_csv(path: str | Path) -> Table:
    """Read a CSV (comma, semicolon or tab separated). The first row is a header unless it is all numbers.

    Raises:
        InputError: empty file, or a row with more cells than the header.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(text.splitlines(), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: the file has no rows; expected a header line and one row per time step.")
    has_header = any(number(c) is None for c in rows[0])
    header = _unique_names(rows[0]) if has_header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if has_header else rows
    width = len(header)
    for i, row in enumerate(body):
        if len(row) > width:
            raise InputError(
                f"{path}: line {i + 1 + has_header} has {len(row)} cells but the header has {width}; "
                "fix the line or quote cells that contain the separator."
            )
    cells = [[(row[j] if j < len(row) else "") for row in body] for j in range(width)]
    kinds, columns, clocks = {}, [], {}
    for name, col in zip(header, cells):
        kind, values = classify(name, col)
        kinds[name] = kind
        columns.append(values if kind in ("numeric", "time index") else None)
        if kind in ("date", "time index"):
            clocks[name] = values if values is not None else date_seconds(col)
    return _build(str(path), len(body), header, columns, kinds, clocks)


def read_npy(path: str | Path) -> Table:
    """Read a .npy array: 1-D (one column '0'), 2-D (rows x columns '0', '1', ...) or structured (field names).

    Raises:
        InputError: another rank, or a dtype that is not numeric.
    """
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"{path}: cannot read it as a .npy array without pickle ({exc}).") from None
    if arr.dtype.names:
        names = list(arr.dtype.names)
        cols = [arr[n] for n in names]
    elif arr.ndim in (1, 2):
        arr2 = arr.reshape(len(arr), -1)
        names = [str(j) for j in range(arr2.shape[1])]
        cols = [arr2[:, j] for j in range(arr2.shape[1])]
    else:
        raise InputError(f"{path}: expected a 1-D or 2-D array (rows x columns), got shape {arr.shape}.")
    kinds, columns = {}, []
    for name, col in zip(names, cols):
        if col.ndim != 1 or col.dtype.kind not in "biuf":
            kinds[name], values = (
                ("text" if col.dtype.kind in "USO" else "date" if col.dtype.kind == "M" else "other"),
                None,
            )
        else:
            values = col.astype(np.float64)
            values[~np.isfinite(values)] = np.nan
            kinds[name] = "time index" if looks_like_time_index(name, values) else "numeric"
        columns.append(values)
    clocks = {n: c for n, c in zip(names, columns) if kinds[n] == "time index"}
    return _build(str(path), len(arr), names, columns, kinds, clocks)


def read_table(path: str | Path) -> Table:
    """Read a series file by suffix: .csv/.tsv/.txt or .npy.

    Raises:
        InputError: missing file or unknown suffix.
    """
    path = Path(path)
    if not path.is_file():
        from .data import DATASETS

        raise InputError(
            f"--data {path}: no such file; expected a .csv or .npy file, or a dataset name "
            f"({', '.join(sorted(DATASETS))})."
        )
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_npy(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_csv(path)
    raise InputError(f"--data {path}: unknown file type {suffix!r}; expected .csv (or .tsv/.txt) or .npy.")


def select(table: Table, columns: Sequence[str] | None, targets: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Resolve input and target column names (defaults: every numeric column; the first input).

    Raises:
        InputError: no numeric column, an unknown name, or a named column that is not numeric.
    """

    def check(names: Sequence[str], flag: str) -> list[str]:
        out = []
        for name in names:
            if name not in table.kinds:
                raise InputError(
                    f"{flag} {name!r}: no such column in {table.path}; the columns are {list(table.kinds)}."
                )
            if name not in table.names:
                raise InputError(
                    f"{flag} {name!r}: that column is {table.kinds[name]}, not numeric; pick numeric "
                    f"columns: {table.numeric() or 'none found'}."
                )
            out.append(name)
        return out

    inputs = check(columns, "--columns") if columns else table.numeric()
    if not inputs:
        raise InputError(
            f"{table.path}: no numeric column to train on (columns: "
            f"{', '.join(f'{n} ({k})' for n, k in table.kinds.items()) or 'none'}). "
            "Expected at least one column whose cells are numbers (a time index is used only when "
            "named in --columns)."
        )
    outs = check(targets, "--target") if targets else inputs[:1]
    return inputs, outs
