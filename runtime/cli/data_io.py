"""`edgernn predict --input`: windows from an NPY or CSV file or from stdin, a window per row.

    .npy   (n, timesteps, features), (n, timesteps * features) or one window (timesteps * features,)
    .csv   a window per row: timesteps * features numbers, time-major (a header row is skipped)
    -      stdin, a window per line, numbers separated by spaces, commas, semicolons or tabs

With `--series`, the file is a series instead (one row per time step, the bundle's columns; stdin:
one time step per line, `features` numbers each) and is cut into every window the way `edgernn
score` cuts it (runtime/data/plan.py). Every refusal is an InputError naming the file, the line and
the value, saying what was expected.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from ..data.cells import number
from ..errors import InputError
from ..records import Spec

SEPARATORS = re.compile(r"[\s,;]+")


def _numbers(cells: list[str], where: str) -> list[float]:
    out = []
    for k, cell in enumerate(cells):
        v = number(cell)
        if v is None:
            raise InputError(f"{where}, value {k + 1}: {cell.strip()!r} is not a number; expected numbers only.")
        out.append(v)
    return out


def text_rows(text: str, width: int, what: str, name: str) -> np.ndarray:
    """Lines of numbers -> (lines, width) float64; InputError naming the line that does not fit."""
    rows = []
    for i, line in enumerate(text.splitlines()):
        cells = [c for c in SEPARATORS.split(line.strip()) if c]
        if not cells:
            continue
        values = _numbers(cells, f"{name} line {i + 1}")
        if len(values) != width:
            raise InputError(
                f"{name} line {i + 1}: expected {width} values ({what}), got {len(values)}. "
                + ("For a series (one time step per line), add --series." if "window" in what else "")
            )
        rows.append(values)
    if not rows:
        raise InputError(f"{name}: no numbers; expected {what} per line.")
    return np.asarray(rows, dtype=np.float64)


def _window_what(spec: Spec) -> str:
    if spec.tokens:
        return f"one window per line: {spec.window_steps} token ids"
    if spec.inputs:  # several inputs: each flattened (time-major), side by side in the manifest's order
        return f"one window per line: the inputs side by side, {' + '.join(f'{p.name} {p.width}' for p in spec.inputs)}"
    return (
        f"one window per line: timesteps {spec.window_steps} x features {spec.features} = "
        f"{spec.window_steps * spec.features} values, time-major"
    )


def _csv_windows(path: Path, spec: Spec) -> np.ndarray:
    text = path.read_text(encoding="utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if rows and any(number(c) is None for c in rows[0]):
        rows = rows[1:]  # a header
    width = spec.window_width
    out = []
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InputError(f"{path} row {i}: expected {width} values ({_window_what(spec)}), got {len(row)}.")
        out.append(_numbers(row, f"{path} row {i}"))
    if not out:
        raise InputError(f"{path}: no rows; expected {_window_what(spec)}.")
    return np.asarray(out)


def _npy_windows(path: Path, spec: Spec) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as a .npy array without pickle ({exc}).") from None
    width, tail = spec.window_width, spec.window_tail
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: dtype {arr.dtype}; expected numbers.")
    if arr.ndim == 1 + len(tail) and arr.shape[1:] == tail:
        return arr
    if arr.ndim == 2 and arr.shape[1] == width:
        return arr
    if arr.ndim == 1 and arr.shape[0] == width:
        return arr[None]
    raise InputError(
        f"{path}: shape {arr.shape}; expected (n, {', '.join(map(str, tail))}), (n, {width}) or ({width},) windows. "
        "For a series (one time step per row), add --series."
    )


def read_windows(name: str, spec: Spec, stdin: TextIO | None = None) -> np.ndarray:
    """(n, timesteps, features) float32 windows from `name` (a .npy/.csv path, or '-' for stdin)."""
    if name == "-":
        x = text_rows((stdin or sys.stdin).read(), spec.window_width, _window_what(spec), "stdin")
    else:
        path = Path(name)
        if not path.is_file():
            raise InputError(f"--input {name}: no such file; expected a .npy or .csv file, or '-' for stdin.")
        suffix = path.suffix.lower()
        if suffix not in (".npy", ".csv"):
            raise InputError(f"--input {name}: unknown file type {suffix!r}; expected .npy, .csv or '-'.")
        x = _npy_windows(path, spec) if suffix == ".npy" else _csv_windows(path, spec)
    return np.asarray(x, dtype=np.float32).reshape(len(x), *spec.window_tail)


def read_stdin_series(spec: Spec, stdin: TextIO | None = None) -> np.ndarray:
    """A series from stdin: (rows, features), one time step per line (a single line: every value a step
    when the model has one feature)."""
    text = (stdin or sys.stdin).read()
    if spec.features == 1:
        text = "\n".join(SEPARATORS.split(text.strip()))
    return text_rows(text, spec.features, f"one time step per line: {spec.features} values", "stdin")
