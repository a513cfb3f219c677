"""From a Table to training windows: missing rows, chronological split, windows, normalisation.

Missing values: a row with a missing value in any selected column (inputs or targets) is dropped
and counted; nothing is filled in. The kept rows form runs of consecutive time steps, and a window
never spans a dropped row (its T inputs and its target are consecutive steps of one run).

Time gaps: when the file has a clock (a date column or a numeric time index whose values strictly
increase) with a regular step (at least 90 % of the steps equal the median step), a step longer than
1.5 x the median marks rows missing from the file altogether, and windows do not span it either.
An irregular clock is not used for this (rows are then taken as equally spaced steps).

Split: the kept rows are cut chronologically, 70 % train, 15 % validation, 15 % test, and each part
is windowed on its own, so no window of one part reads a row of another.

Normalisation: per column, `model = (raw - mean) * (1 / std)` with mean and std of the training rows
only (std 0 -> scale 1). The same numbers go into the bundle's preprocessing, so the bundle takes and
returns raw units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgernn.runtime.data.windows import clock_step, gap_rows, runs
from edgernn.runtime.errors import InputError

from .series import Table

SPLIT = (0.70, 0.15, 0.15)
PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Norm:
    """Per-column affine map; `scale` and `offset` are float32-exact so the runtime reproduces them."""

    offset: np.ndarray
    scale: np.ndarray

    def to_model(self, raw: np.ndarray) -> np.ndarray:
        return ((raw.astype(np.float32) - self.offset) * self.scale).astype(np.float32)

    def to_raw(self, model: np.ndarray) -> np.ndarray:
        return (model.astype(np.float32) / self.scale + self.offset).astype(np.float32)


@dataclass(frozen=True)
class Windows:
    """Windows of one split in raw units: x (n, T, inputs), y (n, targets), and where each target sits."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray  # file row index of each window's target

    def __len__(self) -> int:
        return int(len(self.x))


@dataclass(frozen=True)
class SeriesData:
    """Everything training needs, with the counts the manifest reports."""

    inputs: list[str]
    targets: list[str]
    timesteps: int
    horizon: int
    parts: dict[str, Windows]
    x_norm: Norm
    y_norm: Norm
    info: dict = field(default_factory=dict)

    def model_units(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        w = self.parts[part]
        return self.x_norm.to_model(w.x), self.y_norm.to_model(w.y)


def fit_norm(values: np.ndarray) -> Norm:
    """Mean/std normalisation of each column of `values` (rows, columns), rounded to float32."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    scale = np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 1.0)
    return Norm(offset=mean.astype(np.float32), scale=scale.astype(np.float32))


def time_gaps(table: Table) -> tuple[str | None, np.ndarray]:
    """(clock column, rows that start after a time gap), from a regular clock; (None, []) otherwise."""
    clock = table.clock()
    if clock is None:
        return None, np.zeros(0, dtype=int)
    name, t = clock
    step = clock_step(t)
    if step is None:
        return None, np.zeros(0, dtype=int)
    return name, gap_rows(t, step)


def _windows(
    data: np.ndarray, rows: np.ndarray, n_in: int, timesteps: int, horizon: int, breaks: np.ndarray
) -> Windows:
    span = timesteps + horizon
    xs, ys, where = [], [], []
    for run in runs(rows, breaks):
        if len(run) < span:
            continue
        block = data[run]
        starts = np.arange(len(run) - span + 1)
        xs.append(np.stack([block[s : s + timesteps, :n_in] for s in starts]))
        ys.append(block[starts + span - 1, n_in:])
        where.append(run[starts + span - 1])
    if not xs:
        t = len(data[0]) - n_in
        return Windows(np.zeros((0, timesteps, n_in)), np.zeros((0, t)), np.zeros(0, dtype=int))
    return Windows(np.concatenate(xs), np.concatenate(ys), np.concatenate(where))


def _longest_run(rows: np.ndarray, breaks: np.ndarray) -> int:
    return max((len(r) for r in runs(rows, breaks)), default=0)


def prepare(table: Table, inputs: list[str], targets: list[str], timesteps: int = 12, horizon: int = 1) -> SeriesData:
    """Windows of `timesteps` rows of `inputs` predicting `targets` `horizon` steps after the window's last row.

    Raises:
        InputError: bad timesteps/horizon, fewer complete consecutive rows than one window, or a
            split too short to hold one window.
    """
    if timesteps < 1 or horizon < 1:
        raise InputError(f"--timesteps {timesteps} --horizon {horizon}: both must be at least 1.")
    span = timesteps + horizon
    data = np.concatenate(
        [
            table.values[:, [table.names.index(n) for n in inputs]],
            table.values[:, [table.names.index(n) for n in targets]],
        ],
        axis=1,
    )
    complete = np.isfinite(data).all(axis=1)
    kept = np.nonzero(complete)[0]
    dropped = int(table.rows - kept.size)
    clock, breaks = time_gaps(table)
    longest = _longest_run(kept, breaks)
    if longest < span:
        gaps = f", {len(breaks)} time gaps in {clock!r}" if len(breaks) else ""
        raise InputError(
            f"{table.path}: fewer rows than one window: a window needs {span} consecutive complete rows "
            f"(--timesteps {timesteps} + --horizon {horizon}), the file has {table.rows} rows ({dropped} dropped "
            f"for missing values{gaps}) and the longest complete run is {longest}. "
            "Use a smaller --timesteps or more data."
        )
    cut = np.cumsum([int(round(f * kept.size)) for f in SPLIT[:-1]])
    part_rows = dict(zip(PARTS, np.split(kept, cut)))
    parts = {p: _windows(data, r, len(inputs), timesteps, horizon, breaks) for p, r in part_rows.items()}
    for p, w in parts.items():
        if not len(w):
            raise InputError(
                f"{table.path}: the {p} split ({len(part_rows[p])} of {kept.size} complete rows, longest run "
                f"{_longest_run(part_rows[p], breaks)}) is shorter than one window of {span} rows. The split is "
                f"{'/'.join(str(int(f * 100)) for f in SPLIT)} % train/val/test; "
                "use a smaller --timesteps or more data."
            )
    train = data[part_rows["train"]]
    norms = fit_norm(train)
    n_in = len(inputs)
    info = {
        "rows": table.rows,
        "rows_dropped_missing": dropped,
        "missing_policy": "rows with a missing value in a selected column are dropped; windows never span a dropped "
        "row or a gap in a regular clock column",
        "clock": clock,
        "time_gaps": int(len(breaks)),
        "runs": len(runs(kept, breaks)),
        "split": {
            p: {
                "rows": int(len(part_rows[p])),
                "windows": len(parts[p]),
                "first_row": int(part_rows[p][0]),
                "last_row": int(part_rows[p][-1]),
            }
            for p in PARTS
        },
        "normalisation": "per column (x - mean) / std, fitted on the train split",
    }
    return SeriesData(
        inputs=list(inputs),
        targets=list(targets),
        timesteps=timesteps,
        horizon=horizon,
        parts=parts,
        x_norm=Norm(norms.offset[:n_in], norms.scale[:n_in]),
        y_norm=Norm(norms.offset[n_in:], norms.scale[n_in:]),
        info=info,
    )
