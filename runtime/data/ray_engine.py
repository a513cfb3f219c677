"""`--engine ray`: the same row ranges as the local engine, scored by Ray Data actors.

Windows and blocks: Ray's file readers (`ray.data.read_csv/read_numpy/read_parquet`) cut a file into
blocks at rows of their choosing and a block does not know its row offset, so a window cut inside
a block would lose the rows before it. edgernn therefore distributes *row ranges*: the dataset is
`ray.data.from_items([{"start": s, "stop": e}, ...])`, and each actor reads its range itself, with
the `timesteps - 1` rows before it and the `horizon` rows after it (the overlap), through the same
reader and the same `cut` as the local engine. Every window therefore lies in exactly one range,
whole, and the output equals the local engine's row for row (tests/data/test_ray.py checks it).

`map_batches` runs a callable class (the bundle is loaded once per actor) with `concurrency=N`
actors of `num_cpus=1`, one backend thread each. Output: a folder of Parquet files
(`Dataset.write_parquet`), written beside the target and renamed into place when complete. On a
cluster the file must be readable at the same path by every node (a shared filesystem).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import optional
from ..bundle import Bundle
from ..errors import EdgeRNNError, InputError
from .parity import DataReport, Reference, errors_range, numpy_reference, open_pairs, summarise
from .plan import plan_for, ranges
from .score import Job, Summary, no_window, open_predictor, prepare, score_range, summary
from .source import open_source


def _ray():
    ray = optional.require("ray", "--engine ray")
    optional.require("ray.data", "--engine ray")
    if not ray.is_initialized():  # RAY_ADDRESS (or a running cluster) is used when set; else a local Ray
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-operator INFO lines would bury the table
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.raise_original_map_exception = True  # an actor's InputError reaches the driver as itself
    return ray


def _actors(ray, n: int):
    """`n` actors (ActorPoolStrategy: Ray's `concurrency=n` for a callable class, not deprecated)."""
    return ray.data.ActorPoolStrategy(size=n)


def _joined(batches: list[dict]) -> dict[str, np.ndarray]:
    keys = batches[0].keys()
    return {k: np.concatenate([np.atleast_1d(b[k]) for b in batches]) for k in keys}


class ScoreActor:
    """Loads the bundle once; scores the ranges of each batch with `score_range`."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.predictor = open_predictor(job, threads=1)
        self.source = open_source(job.data)
        self.plan = plan_for(self.predictor.manifest, self.source, job.columns)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        parts = []
        for start, stop in zip(batch["start"].tolist(), batch["stop"].tolist()):
            part = score_range(self.predictor, self.source, self.plan, (start, stop), self.job.strict)
            n = len(part["row"])
            counts = {"_dropped": part.pop("_dropped"), "_gaps": part.pop("_gaps")}
            # the range's counts ride on its first window's row; a range without windows keeps one
            # row (row -1) so its counts still reach the driver
            if n == 0:
                part = {k: np.full(1, -1 if k == "row" else np.nan) for k in part}
                n = 1
            for k, v in counts.items():
                part[k] = np.zeros(n, dtype=np.int64)
                part[k][0] = v
            parts.append(part)
        return _joined(parts)


class ParityActor:
    """Loads every artifact x backend and the reference once; returns per-window errors of each range."""

    def __init__(self, bundle: str, data: str, names, variants, reference, columns) -> None:
        self.bundle = Bundle.open(bundle)
        self.source = open_source(data)
        self.plan = plan_for(self.bundle.manifest, self.source, columns)
        self.pairs = open_pairs(self.bundle, names, variants)
        self.ref = (reference or numpy_reference)(self.bundle)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        spans = zip(batch["start"].tolist(), batch["stop"].tolist())
        return _joined([errors_range(self.bundle, self.pairs, self.ref, self.source, self.plan, s) for s in spans])


def _windows_only(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop the count columns and the placeholder rows of ranges without windows."""
    keep = batch["row"] >= 0
    return {k: v[keep] for k, v in batch.items() if not k.startswith("_")}


def _counts(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per block: its windows and the counts its ranges carried."""
    windows = int((batch["row"] >= 0).sum())
    return {"windows": [windows], "_dropped": [int(batch["_dropped"].sum())], "_gaps": [int(batch["_gaps"].sum())]}


def _ranges_dataset(ray, rows: int, chunk_rows: int):
    spans = ranges(rows, chunk_rows)
    items = [{"start": s, "stop": e} for s, e in spans]
    return ray.data.from_items(items, override_num_blocks=len(items))


def _unwrap(exc: BaseException) -> BaseException:
    """The edgernn error an actor raised, found inside Ray's wrappers (RayTaskError, UserCodeException)."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if isinstance(e, EdgeRNNError):
            return e
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    return exc


def score_ray(job: Job, out: Path, actors: int = 2) -> Summary:
    """Score `job` on Ray with `actors` actors; the Parquet folder appears at `out` only when complete."""
    ray = _ray()
    source, plan, predictor = prepare(job)  # every check on the driver, before any actor starts
    if out.exists():
        raise InputError(f"--out {out}: already exists; the Ray engine writes a new folder of Parquet files.")
    ds = _ranges_dataset(ray, source.rows, job.chunk_rows).map_batches(
        ScoreActor, fn_constructor_kwargs={"job": job}, batch_size=1, compute=_actors(ray, actors), num_cpus=1
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else "."))
    try:
        try:
            done = ds.materialize()
            # per-block sums with a plain map (Dataset.sum's aggregation machinery costs seconds here)
            counts = done.map_batches(_counts, batch_size=None, batch_format="numpy").take_all()
        except Exception as exc:  # Ray wraps what an actor raised; the edgernn error inside is the answer
            raise _unwrap(exc) from None
        windows, dropped, gaps = (int(sum(c[k] for c in counts)) for k in ("windows", "_dropped", "_gaps"))
        if not windows:
            raise no_window(job, plan, dropped, gaps)
        shutil.rmtree(tmp)
        done.map_batches(_windows_only, batch_format="numpy").write_parquet(str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return summary(job, out, predictor, plan, windows, dropped, gaps)


def validate_ray(
    bundle: str, data: str, *, backend_names=None, variants=None, reference=None, reference_name="model.keras",
    columns=None, chunk_rows: int = 65536, actors: int = 2,
) -> DataReport:  # fmt: skip
    """`validate_data` on Ray: the same per-range errors, computed by `actors` actors, joined on the driver."""
    ray = _ray()
    b = Bundle.open(bundle)
    b.check_integrity()
    source = open_source(data)
    plan_for(b.manifest, source, columns)  # bad columns fail here, before any actor starts
    pairs = open_pairs(b, backend_names, variants)
    args = (str(bundle), str(data), backend_names, variants, reference, columns)
    ds = _ranges_dataset(ray, source.rows, chunk_rows).map_batches(
        ParityActor, fn_constructor_args=args, batch_size=1, compute=_actors(ray, actors), num_cpus=1
    )
    try:
        parts = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
    except Exception as exc:
        raise _unwrap(exc) from None
    ref: Reference | None = reference
    return summarise(b, Path(data), pairs, parts, reference_name if ref else "model.npz (numpy float32)")
