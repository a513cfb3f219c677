"""Batch scoring of a whole series file: windows cut as at training, predictions beside their row ids.

    from edgernn.runtime.data.score import score
    summary = score("models/sunspots-gru", "data/sunspots.csv", "scores.csv")

The file is read, cut and predicted one range of `chunk_rows` rows at a time (runtime/data/plan.py),
and the rows are streamed to the output (runtime/data/sinks.py), so memory stays flat whatever the
file's length. With `threads=N`, N worker threads each hold their own Predictor and score ranges in
parallel; results are written in file order, at most 2 x N ranges in flight. The Ray engine
(runtime/data/ray_engine.py) scores the same ranges with the same `score_range`.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..bundle import Bundle
from ..errors import InputError
from ..manifest import DEFAULT_VARIANT
from ..predictor import Predictor
from .plan import Plan, cut, plan_for, ranges
from .sinks import open_sink
from .source import Source, open_source

CHUNK_ROWS = 65536


@dataclass(frozen=True)
class Job:
    """What to score and how: the options every engine takes (one record, not ten keywords)."""

    bundle: Path
    data: Path
    backend: str = "auto"
    variant: str = DEFAULT_VARIANT
    columns: tuple[str, ...] | None = None
    chunk_rows: int = CHUNK_ROWS
    strict: bool = False  # a missing input value is an InputError instead of a dropped row


@dataclass(frozen=True)
class Summary:
    """What a scoring run did: counts, the backend and artifact used, where the rows went."""

    bundle: str
    data: str
    out: str
    backend: str
    artifact: str
    rows: int
    windows: int
    rows_dropped_missing: int
    time_gaps: int
    columns: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def output_columns(plan: Plan) -> list[str]:
    """row, the clock, one `<output>_pred` per model output, then the true target values."""
    return ["row", *([plan.clock] if plan.clock else []), *(f"{o}_pred" for o in plan.outputs), *plan.targets]


def open_predictor(job: Job, threads: int = 1) -> Predictor:
    """The job's Predictor; `threads` goes to load() where the runtime takes it (one per Ray actor)."""
    bundle = Bundle.open(job.bundle)
    if "threads" in inspect.signature(bundle.predictor).parameters:  # the runtimes' thread option (issue 15)
        return bundle.predictor(job.backend, job.variant, threads=threads)
    return bundle.predictor(job.backend, job.variant)


def score_range(predictor: Predictor, source: Source, plan: Plan, span: tuple[int, int], strict: bool) -> dict:
    """The output columns of the windows ending in `span`, plus the range's counts under '_dropped'/'_gaps'."""
    c = cut(source, plan, span[0], span[1], strict=strict)
    y = predictor.predict(c.x) if len(c.x) else np.zeros((0, len(plan.outputs)), np.float32)
    out: dict = {"row": c.rows}
    if plan.clock:
        out[plan.clock] = c.time
    out.update({f"{o}_pred": y[:, j] for j, o in enumerate(plan.outputs)})
    out.update({t: c.truth[:, j] for j, t in enumerate(plan.targets)})
    out["_dropped"], out["_gaps"] = c.rows_dropped, c.gaps
    return out


def prepare(job: Job) -> tuple[Source, Plan, Predictor]:
    """Open the file, plan its windows and load the predictor: every check before anything is written."""
    source = open_source(job.data)
    predictor = open_predictor(job)
    plan = plan_for(predictor.manifest, source, job.columns)
    if source.rows < plan.timesteps:
        raise InputError(
            f"{source.path}: {source.rows} rows, fewer than one window of {plan.timesteps} rows "
            f"(the bundle's timesteps); expected at least {plan.timesteps} rows of {list(plan.inputs)}."
        )
    return source, plan, predictor


def results(job: Job, threads: int = 1) -> tuple[Plan, Predictor, Iterator[dict], int]:
    """(plan, predictor, the per-range column dicts in file order, number of ranges)."""
    source, plan, predictor = prepare(job)
    spans = ranges(source.rows, job.chunk_rows)
    if threads <= 1:
        return plan, predictor, (score_range(predictor, source, plan, s, job.strict) for s in spans), len(spans)
    local = threading.local()

    def work(span: tuple[int, int]) -> dict:
        if not hasattr(local, "predictor"):  # one Predictor per thread: litert's Interpreter is not shared
            local.predictor = open_predictor(job)
        return score_range(local.predictor, source, plan, span, job.strict)

    def ordered() -> Iterator[dict]:
        with ThreadPoolExecutor(threads) as pool:
            pending: deque = deque()
            for span in spans:
                pending.append(pool.submit(work, span))
                if len(pending) >= 2 * threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    return plan, predictor, ordered(), len(spans)


def write(
    parts: Iterator[dict], plan: Plan, predictor: Predictor, job: Job, out: Path, step: Callable | None = None
) -> Summary:
    """Stream the column dicts to `out` atomically; InputError (nothing written) when no window was cut."""
    columns = output_columns(plan)
    windows = dropped = gaps = 0
    with open_sink(Path(out), columns, values=[f"{o}_pred" for o in plan.outputs]) as sink:
        for part in parts:
            dropped, gaps = dropped + part.pop("_dropped"), gaps + part.pop("_gaps")
            if len(part["row"]):
                sink.write(part)
                windows += len(part["row"])
            if step:
                step(f"{windows} windows")
        if not windows:
            raise no_window(job, plan, dropped, gaps)
    return summary(job, out, predictor, plan, windows, dropped, gaps)


def no_window(job: Job, plan: Plan, dropped: int, gaps: int) -> InputError:
    return InputError(
        f"{job.data}: no complete window: a window needs {plan.timesteps} consecutive rows with every input "
        f"column {list(plan.inputs)} present; {dropped} rows have a missing value and {gaps} time gaps cut the "
        "series. Nothing was written; fill the missing cells or use more rows."
    )


def summary(job: Job, out: Path, predictor: Predictor, plan: Plan, windows: int, dropped: int, gaps: int) -> Summary:
    rows = open_source(job.data).rows
    return Summary(
        str(job.bundle), str(job.data), str(out), predictor.backend, predictor.artifact.file, rows, windows,
        dropped, gaps, output_columns(plan),
    )  # fmt: skip


def score(
    bundle: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    threads: int = 1,
    step: Callable[[str], None] | None = None,
    **options,
) -> Summary:
    """Score every window of `data` with the bundle and write the predictions to `out` (.csv/.parquet/.npy/.json).

    Args:
        bundle, data, out: the bundle directory, the series file, the output file (written atomically).
        threads: worker threads, each with its own Predictor.
        step: called once per range scored (a progress bar).
        options: fields of `Job` (backend, variant, columns, chunk_rows, strict).

    Raises:
        InputError: bad file (columns, cells, too few rows); the output is then not written.

    Example:
        >>> score("models/sunspots-gru", "data/sunspots.csv", "/tmp/s.csv").windows
        298
    """
    job = Job(Path(bundle), Path(data), **options)
    check_paths(job, Path(out))
    plan, predictor, parts, _ = results(job, threads)
    return write(parts, plan, predictor, job, Path(out), step)


def check_paths(job: Job, out: Path) -> None:
    if out.exists() and out.resolve() == job.data.resolve():
        raise InputError(f"--out {out}: that is the input file; write the scores to another file.")


def concat(parts: Sequence[dict]) -> dict[str, np.ndarray]:
    """Column dicts of several ranges joined into one (tests and predict --series)."""
    keys = [k for k in parts[0] if not k.startswith("_")] if parts else []
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}
