"""Which windows a bundle takes from a series file, and cutting them one row range at a time.

`plan_for(manifest, source)` reads the bundle's own description of its data (the manifest's
`training.data` columns, targets and clock, `training.horizon`, the input's timesteps) and checks
the file has those columns. `cut(source, plan, start, stop)` returns the windows whose last input
row lies in [start, stop): it reads the `timesteps - 1` rows before the range and the `horizon`
rows after it, so a file scored in ranges gives exactly the windows of the whole file (the local
engine and every Ray actor call the same function on their own ranges).

A window is scored when its `timesteps` input rows are complete and no time gap falls inside
(runtime/data/windows.py, the rules training applies). Its target row is `horizon` rows after its
last input row; the target's true value is given when the whole span is complete, as in training
(so the windows with a true value are exactly the windows `edgernn train` cut).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, UnsupportedModelError
from ..manifest import Manifest
from .cells import TIME_NAMES
from .source import Source, unknown_columns
from .windows import clock_step, gap_rows, run_lengths

CLOCK_SAMPLE = 100_000  # rows the clock's regular step is measured on (training measures the whole file)


@dataclass(frozen=True)
class Plan:
    """The columns, window length, horizon and clock rule of one bundle on one file."""

    inputs: tuple[str, ...]
    targets: tuple[str, ...]  # the bundle's targets found in the file (true values), may be empty
    outputs: tuple[str, ...]  # names of the model's outputs
    timesteps: int
    horizon: int
    clock: str | None
    step: float | None  # the clock's regular step; None: no gap rule
    date_formats: tuple[tuple[str, str], ...] = ()  # (column, strptime format) as training read them

    @property
    def names(self) -> list[str]:
        extra = [t for t in self.targets if t not in self.inputs]
        return [*self.inputs, *extra, *([self.clock] if self.clock else [])]


@dataclass(frozen=True)
class Cut:
    """The windows of one row range: raw inputs, target row ids, clock at the target, true values."""

    x: np.ndarray  # (n, timesteps, features) float32, raw units
    rows: np.ndarray  # (n,) int64: the target row (last input row + horizon), may lie past the file's end
    time: np.ndarray | None  # (n,) float64 clock of the target row (extrapolated past the end), or None
    truth: np.ndarray  # (n, len(targets)) float64, NaN where the target span is not complete
    rows_dropped: int  # rows of the range with a missing input value
    gaps: int  # time gaps starting inside the range


def _time_like(name: str) -> bool:
    return bool(set(re.split(r"[^a-z]+", name.lower())) & TIME_NAMES)


def plan_for(manifest: Manifest, source: Source, columns: Sequence[str] | None = None) -> Plan:
    """The windows `manifest`'s model takes from `source` (columns override the manifest's inputs).

    Raises:
        InputError: the file lacks a column the bundle reads, or the inputs cannot be told apart.
        UnsupportedModelError: a sequence-output model (one output per timestep).
    """
    spec = manifest.spec
    if spec.inputs:
        raise UnsupportedModelError(
            f"{manifest.name}: the model takes {len(spec.inputs)} inputs ({', '.join(p.name for p in spec.inputs)}); "
            "a series file feeds one. Give windows with the inputs side by side per row (predict --input FILE), "
            "or call predict with a dict by input name."
        )
    if spec.sequence_output:
        raise UnsupportedModelError(
            f"{manifest.name}: the model returns one output per timestep; scoring a series needs a "
            "window -> vector model (return_sequences=False on the last recurrent layer)."
        )
    training = manifest.extra.get("training") or {}
    data = training.get("data") or {}
    inputs = list(columns or data.get("columns") or [])
    if not inputs:
        candidates = [c for c in source.columns if not _time_like(c)]
        if len(candidates) != spec.features:
            raise InputError(
                f"{source.path}: the bundle records no input columns and the file has {len(candidates)} "
                f"non-time columns {candidates} for {spec.features} features; name them with --columns A,B,..."
            )
        inputs = candidates
    if len(inputs) != spec.features:
        raise InputError(f"--columns {inputs}: the model takes {spec.features} features, got {len(inputs)} columns.")
    unknown_columns(source, inputs, "the bundle's input columns")
    targets = [t for t in data.get("targets") or [] if t in source.columns]
    outputs = list(data.get("targets") or manifest.extra.get("output_names") or [])
    if len(outputs) != spec.outputs:
        outputs = [f"y{j}" for j in range(spec.outputs)]
    clock = data.get("clock") if "training" in manifest.extra else None
    if clock is None:
        clock = next((c for c in source.columns if _time_like(c) and c not in inputs), None)
    if clock not in source.columns:
        clock = None
    formats = tuple(sorted((data.get("date_formats") or {}).items()))
    _use_formats(source, formats)
    step = clock_step(source.read(0, CLOCK_SAMPLE, [clock])[clock]) if clock else None
    horizon = int(training.get("horizon") or 1)
    return Plan(tuple(inputs), tuple(targets), tuple(outputs), spec.timesteps, horizon, clock, step, formats)


def _use_formats(source: Source, formats: tuple[tuple[str, str], ...]) -> None:
    """Read date columns in the formats training recorded (a CSV source keeps them; others need none)."""
    known = getattr(source, "date_formats", None)
    if known is not None:
        known.update(formats)


def cut(source: Source, plan: Plan, start: int, stop: int, *, strict: bool = False) -> Cut:
    """The windows whose last input row is in [start, stop) (see the module docstring).

    Raises:
        InputError: a non-number in a cell (from the reader); with `strict`, a missing input value.
    """
    t, h = plan.timesteps, plan.horizon
    _use_formats(source, plan.date_formats)  # a Ray actor's own source too
    lo, hi = max(start - t + 1, 0), min(stop + h, source.rows)
    cols = source.read(lo, hi, plan.names)
    xs = np.stack([cols[n] for n in plan.inputs], axis=1)
    ok_in = np.isfinite(xs).all(axis=1)
    own = slice(max(start, 0) - lo, min(stop, source.rows) - lo)
    if strict and not ok_in[own].all():
        r = int(np.flatnonzero(~ok_in[own])[0]) + own.start
        name = plan.inputs[int(np.flatnonzero(~np.isfinite(xs[r]))[0])]
        raise InputError(
            f"{source.path}: row {lo + r}, column {name!r} is missing (empty, NA or NaN); expected a number. "
            "Fill it, or use --missing drop (the default) to skip the windows that would read it."
        )
    tclock = cols[plan.clock] if plan.clock else None
    breaks = gap_rows(tclock, plan.step) if tclock is not None else np.zeros(0, dtype=int)
    ends = np.arange(own.start, own.stop)
    ends = ends[run_lengths(ok_in, breaks)[ends] >= t] if ends.size else ends
    if ends.size:
        x = np.lib.stride_tricks.sliding_window_view(xs, t, axis=0)[ends - t + 1].transpose(0, 2, 1)
    else:
        x = np.zeros((0, t, len(plan.inputs)))
    truth = np.full((ends.size, len(plan.targets)), np.nan)
    if plan.targets:
        ys = np.stack([cols[n] for n in plan.targets], axis=1)
        ok_all = ok_in & np.isfinite(ys).all(axis=1)
        span_ok = run_lengths(ok_all, breaks)
        tgt = ends + h
        inside = tgt < len(xs)
        good = np.zeros(ends.size, dtype=bool)
        good[inside] = span_ok[tgt[inside]] >= t + h
        truth[good] = ys[tgt[good]]
    time = None
    if tclock is not None:
        tgt = ends + h
        last = tclock[ends] + h * (plan.step or np.nan)
        time = np.where(tgt < len(tclock), tclock[np.minimum(tgt, len(tclock) - 1)], last)
    own_breaks = breaks[(breaks >= own.start) & (breaks < own.stop)]
    return Cut(
        x=np.ascontiguousarray(x, dtype=np.float32),
        rows=(ends + lo + h).astype(np.int64),
        time=time,
        truth=truth,
        rows_dropped=int((~ok_in[own]).sum()),
        gaps=int(own_breaks.size),
    )


def ranges(rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """[start, stop) row ranges of `chunk_rows` covering `rows` (the unit of work of both engines)."""
    if chunk_rows < 1:
        raise InputError(f"--chunk-rows {chunk_rows}: expected at least 1.")
    return [(s, min(s + chunk_rows, rows)) for s in range(0, rows, chunk_rows)]
