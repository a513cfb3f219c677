"""Where windows may be cut in a series: the rules `edgernn train` applies, shared with scoring.

A window is `timesteps` consecutive complete rows (every input column finite); its target is the
row `horizon` steps after its last row. Windows never span a dropped row (a missing value) nor a
time gap: when the file has a regular clock (at least 90 % of its steps equal the median step), a
step longer than 1.5 x the median marks rows missing from the file altogether. An irregular clock
is not used (rows are then taken as equally spaced steps).

train/windows.py cuts its training windows with these functions; runtime/data/scoring.py cuts the
windows of a whole file chunk by chunk with the same ones, so `edgernn score` scores exactly the
windows training saw.
"""

from __future__ import annotations

import numpy as np

REGULAR_SHARE = 0.9  # share of steps equal (within 1 %) to the median for a clock to count as regular
GAP_FACTOR = 1.5  # a step longer than this x the median step is a gap


def clock_step(t: np.ndarray) -> float | None:
    """The median step of a clock (NaN where unreadable), or None when the clock is not regular."""
    finite = t[np.isfinite(t)]
    if finite.size < 3:
        return None
    steps = np.diff(finite)
    step = float(np.median(steps))
    if step <= 0 or np.mean(np.isclose(steps, step, rtol=0.01)) < REGULAR_SHARE:
        return None
    return step


def gap_rows(t: np.ndarray, step: float | None) -> np.ndarray:
    """Indices of the rows of `t` that start after a time gap (a step over GAP_FACTOR x `step`)."""
    if step is None:
        return np.zeros(0, dtype=int)
    idx = np.nonzero(np.isfinite(t))[0]
    return idx[1:][np.diff(t[idx]) > GAP_FACTOR * step]


def runs(rows: np.ndarray, breaks: np.ndarray | None = None) -> list[np.ndarray]:
    """Split sorted row indices into runs of consecutive indices, also starting a run at each `breaks` row."""
    if rows.size == 0:
        return []
    cut = np.diff(rows) != 1
    if breaks is not None and breaks.size:
        cut |= np.isin(rows[1:], breaks)
    return np.split(rows, np.nonzero(cut)[0] + 1)


def run_lengths(ok: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """For each row, how many consecutive usable rows end at it (0 where the row is not usable).

    `ok` flags usable rows; a row in `breaks` starts a new run. Vectorised: a window of T rows
    ending at row e is clean exactly when run_lengths(...)[e] >= T.
    """
    n = len(ok)
    idx = np.arange(n)
    start = ~ok
    start[breaks[(breaks >= 0) & (breaks < n)]] = True
    last = np.maximum.accumulate(np.where(start, idx, -1))  # the last unusable or run-starting row so far
    # after an unusable row r: i - r rows; after a usable break row r (it starts the run): i - r + 1
    counts_itself = (last >= 0) & ok[np.maximum(last, 0)]
    return np.where(ok, idx - last + counts_itself, 0).astype(np.int64)
