"""Series files for the data tests: the sunspots columns with missing cells and a time gap, and an
independent brute-force list of the windows training's rules allow in them (the tests' oracle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLOCK, VALUE = "YEAR", "SUNACTIVITY"  # the columns models/sunspots-gru was trained on


def holey_series(rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(years, values): yearly steps with one 5-year gap after row 150, NaN values at a few rows."""
    rng = np.random.default_rng(seed)
    years = 1700 + np.arange(rows, dtype=float)
    years[150:] += 5  # rows 150.. start after a time gap
    values = np.round(rng.uniform(0, 150, rows), 1)
    missing = np.array([40, 41, 230, 231, 232, rows - 3])
    values[missing[missing < rows]] = np.nan
    return years, values


def write_csv(path: Path, years: np.ndarray, values: np.ndarray) -> Path:
    lines = [f"{CLOCK},{VALUE}"] + [f"{int(y)},{'' if np.isnan(v) else v}" for y, v in zip(years, values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def brute_force_windows(years: np.ndarray, values: np.ndarray, timesteps: int, horizon: int = 1) -> list[int]:
    """Target rows of every window with complete inputs and no gap inside, one row at a time."""
    step = float(np.median(np.diff(years)))
    out = []
    for end in range(timesteps - 1, len(values)):
        rows = range(end - timesteps + 1, end + 1)
        complete = all(np.isfinite(values[r]) for r in rows)
        no_gap = all(years[r] - years[r - 1] <= 1.5 * step for r in list(rows)[1:])
        if complete and no_gap:
            out.append(end + horizon)
    return out
