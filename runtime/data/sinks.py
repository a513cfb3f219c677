"""Tables written atomically: CSV, Parquet, NPY and JSON, streamed by chunks into a temp file beside the target.

    with open_sink(Path("scores.csv"), ["row", "y_pred"]) as sink:
        sink.write({"row": rows, "y_pred": y})     # any number of times
    # only now does scores.csv exist; an exception inside the block leaves nothing at the path

The temp file is renamed over the target (os.replace, atomic on one filesystem) after its bytes are
flushed to disk. NPY and JSON hold every row in memory until the end (fine for `predict`); CSV and
Parquet stream, so `score` stays flat in memory whatever the file's length.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import optional
from ..errors import InputError

SUFFIXES = (".csv", ".parquet", ".npy", ".json")


class Sink:
    """Base of the writers: a temp file in the target's folder, renamed over the target on success."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path, self.columns, self.rows = Path(path), list(columns), 0
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise InputError(f"--out {path}: the folder {folder} does not exist; create it first.")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        self.tmp = Path(tmp)

    def __enter__(self) -> Sink:
        return self

    def write(self, columns: dict[str, np.ndarray]) -> None:
        self.rows += len(next(iter(columns.values())))
        self._write(columns)

    def _write(self, columns: dict[str, np.ndarray]) -> None: ...

    def _finish(self) -> None: ...

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self._finish()
                with open(self.tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)


class CsvSink(Sink):
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        super().__init__(path, columns)
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="")
        self.fh.write(",".join(self.columns) + "\n")

    def _write(self, columns: dict[str, np.ndarray]) -> None:
        parts = [_text(columns[c]) for c in self.columns]
        self.fh.write("".join(",".join(r) + "\n" for r in zip(*parts)))

    def _finish(self) -> None:
        self.fh.close()

    def __exit__(self, kind, exc, tb) -> None:
        self.fh.close()
        super().__exit__(kind, exc, tb)


def _text(values: np.ndarray) -> list[str]:
    """Integers as integers; floats with repr's shortest round-trip digits (float32 stays float32-exact)."""
    if values.dtype.kind in "iu":
        return [str(v) for v in values.tolist()]
    if values.dtype == np.float32:
        return ["" if v != v else repr(v) for v in (float(np.float32(x)) for x in values)]
    return ["" if v != v else repr(v) for v in values.tolist()]


class ParquetSink(Sink):
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.pa = optional.require("pyarrow", f"writing {path}")
        self.pq = optional.require("pyarrow.parquet", f"writing {path}")
        super().__init__(path, columns)
        self.writer = None

    def _write(self, columns: dict[str, np.ndarray]) -> None:
        table = self.pa.table({c: columns[c] for c in self.columns})
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.tmp, table.schema)
        self.writer.write_table(table)

    def _finish(self) -> None:
        if self.writer is None:  # no rows: still a valid file with the columns
            schema = self.pa.schema([(c, self.pa.float64()) for c in self.columns])
            self.writer = self.pq.ParquetWriter(self.tmp, schema)
        self.writer.close()


class MemorySink(Sink):
    """NPY (the prediction columns, as one float32 array) and JSON (every column as lists): written at the end."""

    def __init__(self, path: Path, columns: Sequence[str], values: Sequence[str]) -> None:
        super().__init__(path, columns)
        self.values, self.parts = list(values), []

    def _write(self, columns: dict[str, np.ndarray]) -> None:
        self.parts.append(columns)

    def _finish(self) -> None:
        merged = {c: np.concatenate([p[c] for p in self.parts]) if self.parts else np.zeros(0) for c in self.columns}
        if self.path.suffix.lower() == ".npy":
            y = np.stack([merged[c] for c in self.values], axis=1) if self.values else np.zeros((0, 0))
            with open(self.tmp, "wb") as fh:
                np.save(fh, y.astype(np.float32))
        else:
            rows = {c: [None if v != v else v for v in merged[c].tolist()] for c in self.columns}
            self.tmp.write_text(json.dumps(rows) + "\n", encoding="utf-8")


def open_sink(path: Path, columns: Sequence[str], values: Sequence[str] = ()) -> Sink:
    """The writer for `path` by suffix; `values` are the columns an .npy output holds.

    Raises:
        InputError: an unknown suffix or a missing folder; MissingExtraError: Parquet without pyarrow.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return CsvSink(path, columns)
    if suffix == ".parquet":
        return ParquetSink(path, columns)
    if suffix in (".npy", ".json"):
        return MemorySink(path, columns, values)
    raise InputError(f"--out {path}: unknown output type {suffix!r}; expected one of {', '.join(SUFFIXES)}.")
