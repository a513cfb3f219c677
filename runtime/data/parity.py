"""Dataset-scale parity: every artifact x backend against a reference over every window of a file.

    report = validate_data("models/sunspots-gru", "data/sunspots.csv")
    report.passed, [(r.file, r.backend, r.max_abs_error, r.p99_abs_error) for r in report.rows]

The reference is what the caller passes (`edgernn validate --data` passes model.keras when
TensorFlow is installed, `edgernn.export.reference.keras_reference`); without one it is the bundle's
float32 numpy artifact (model.npz, the Keras equations in float32 numpy), which then scores 0
against itself. Errors are in model units, like every tolerance in the manifest; each window's
error is the max over its outputs. The file is cut into windows exactly as `edgernn score` cuts it
(runtime/data/plan.py), range by range, so memory grows only by one float32 per window and pair.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import backends
from ..bundle import Bundle
from ..errors import EdgeRNNError, InputError, IntegrityError, ManifestError
from ..manifest import DEFAULT_VARIANT, MODEL_ROLE, ArtifactEntry
from ..validate import tolerance_of
from .plan import Plan, cut, plan_for, ranges
from .source import Source, open_source

Reference = Callable[[np.ndarray], np.ndarray]  # model-unit windows -> model-unit outputs
WORST = 5  # worst windows listed per pair


@dataclass(frozen=True)
class Pair:
    """One artifact loaded in one backend (or why it could not be)."""

    art: ArtifactEntry
    backend: str
    run: Callable[[np.ndarray], np.ndarray] | None
    problem: str = ""

    @property
    def key(self) -> str:
        return f"{self.art.file}@{self.backend}"


@dataclass(frozen=True)
class DataRow:
    """The errors of one artifact x backend over every window of the file."""

    file: str
    variant: str
    backend: str
    windows: int
    max_abs_error: float
    p99_abs_error: float
    mean_abs_error: float
    range_relative_error: float  # max abs error / the reference outputs' range
    tolerance: float
    passed: bool
    worst: list[dict] = field(default_factory=list)  # [{"row": target row id, "abs_error": e}, ...]
    problem: str = ""
    errors: np.ndarray | None = field(default=None, repr=False)  # per window, for the plot

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}


@dataclass(frozen=True)
class DataReport:
    bundle: str
    data: str
    reference: str
    windows: int
    output_range: float
    rows: list[DataRow]

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(r.passed for r in self.rows)

    def as_dict(self) -> dict:
        return {
            "bundle": self.bundle,
            "data": self.data,
            "reference": self.reference,
            "windows": self.windows,
            "output_range": self.output_range,
            "passed": self.passed,
            "rows": [r.as_dict() for r in self.rows],
        }


def numpy_reference(bundle: Bundle) -> Reference:
    """The bundle's float32 numpy artifact as the reference (no TensorFlow needed)."""
    found = bundle.manifest.artifacts(role=MODEL_ROLE, variant=DEFAULT_VARIANT, formats=("numpy",))
    if not found:
        raise InputError(
            f"{bundle.path}: validate --data needs a reference: model.keras with TensorFlow "
            "(pip install 'edgernn[train]') or the bundle's float32 model.npz (export with --formats ...,numpy)."
        )
    return bundle.predictor("numpy", artifact=found[0]).run_model_units


def open_pairs(bundle: Bundle, names: Sequence[str] | None, variants: Sequence[str] | None) -> list[Pair]:
    """Every window artifact x installed backend that runs its format (a load failure is a failed pair)."""
    pairs = []
    for art in bundle.manifest.artifacts(role=MODEL_ROLE, variant=variants):
        for name in names or backends.installed():
            if not backends.runs(name, art):
                continue
            try:
                pairs.append(Pair(art, name, bundle.predictor(name, artifact=art).run_model_units))
            except (ManifestError, IntegrityError):
                raise
            except EdgeRNNError as exc:
                pairs.append(Pair(art, name, None, f"{type(exc).__name__}: {exc}"))
    return pairs


def errors_range(
    bundle: Bundle, pairs: Iterable[Pair], reference: Reference, source: Source, plan: Plan, span: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Per-window errors of every pair on the windows ending in `span`, with the rows and the reference range."""
    c = cut(source, plan, *span)
    xm = bundle.manifest.spec.x.to_model(c.x).astype(np.float32)
    out = {"row": c.rows}
    if not len(xm):
        return {**out, "ref_min": np.zeros(0), "ref_max": np.zeros(0), **{p.key: np.zeros(0) for p in pairs}}
    ref = np.asarray(reference(xm), dtype=np.float64)
    flat = ref.reshape(len(xm), -1)
    out["ref_min"], out["ref_max"] = flat.min(axis=1), flat.max(axis=1)  # per window: joins like any column
    for p in pairs:
        if p.run is None:
            continue
        try:
            y = np.asarray(p.run(xm), dtype=np.float64)
            err = np.abs(y - ref).reshape(len(xm), -1).max(axis=1) if y.shape == ref.shape else None
        except EdgeRNNError:
            err = None
        out[p.key] = np.full(len(xm), np.inf) if err is None else np.where(np.isfinite(err), err, np.inf)
    return out


def summarise(bundle: Bundle, data: Path, pairs: list[Pair], parts: Iterable[dict], reference_name: str) -> DataReport:
    """Join the per-range error dicts (any order: they are sorted by row) into one DataRow per pair."""
    rows_ids, errs, lo, hi = [], {p.key: [] for p in pairs}, np.inf, -np.inf
    for part in parts:
        if not len(part["row"]):
            continue
        rows_ids.append(part["row"])
        lo, hi = min(lo, float(part["ref_min"].min())), max(hi, float(part["ref_max"].max()))
        for p in pairs:
            if p.key in part:
                errs[p.key].append(part[p.key].astype(np.float32))
    ids = np.concatenate(rows_ids) if rows_ids else np.zeros(0, dtype=np.int64)
    if not ids.size:
        raise InputError(f"{data}: no complete window in the file; nothing to validate.")
    order = np.argsort(ids, kind="stable")
    ids, errs = ids[order], {k: np.concatenate(v)[order] if v else v for k, v in errs.items()}
    rng = hi - lo
    return DataReport(str(bundle.path), str(data), reference_name, int(ids.size), rng,
                      [_row(p, errs[p.key], ids, rng) for p in pairs])  # fmt: skip


def _row(p: Pair, e: np.ndarray, ids: np.ndarray, rng: float) -> DataRow:
    tol = tolerance_of(p.art)
    head = (p.art.file, p.art.variant, p.backend, int(ids.size))
    if p.run is None:
        inf = float("inf")
        return DataRow(*head, inf, inf, inf, inf, tol, False, problem=p.problem)
    worst = np.argsort(-e, kind="stable")[:WORST]
    top = float(e.max())
    problem = "" if np.isfinite(top) else "the artifact failed or returned NaN/inf on some windows"
    return DataRow(
        *head, top, float(np.percentile(e, 99)), float(e.mean()), top / rng if rng > 0 else 0.0, tol,
        bool(np.isfinite(top) and top <= tol), [{"row": int(ids[i]), "abs_error": float(e[i])} for i in worst],
        problem, e,
    )  # fmt: skip


def validate_data(
    bundle: str | os.PathLike[str] | Bundle,
    data: str | os.PathLike[str],
    *,
    backend_names: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    reference: Callable[[Bundle], Reference] | None = None,
    columns: Sequence[str] | None = None,
    reference_name: str = "model.keras",
    chunk_rows: int = 65536,
) -> DataReport:
    """Every window artifact x backend against `reference(bundle)` (default: the numpy float32 artifact).

    Raises:
        InputError: a bad file (see runtime/data/source.py); ManifestError, IntegrityError: a bad bundle.

    Example:
        >>> validate_data("models/sunspots-gru", "data/sunspots.csv").passed
        True
    """
    bundle = bundle if isinstance(bundle, Bundle) else Bundle.open(bundle)
    bundle.check_integrity()
    source = open_source(data)
    plan = plan_for(bundle.manifest, source, columns)
    ref = (reference or numpy_reference)(bundle)
    name = reference_name if reference else "model.npz (numpy float32)"
    pairs = open_pairs(bundle, backend_names, variants)
    parts = (errors_range(bundle, pairs, ref, source, plan, s) for s in ranges(source.rows, chunk_rows))
    return summarise(bundle, Path(data), pairs, parts, name)
