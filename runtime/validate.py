"""Cross-runtime validation: every artifact x every installed backend against the Keras outputs.

The reference is the bundle's golden vectors (Keras outputs recorded at export time), so a device
with only numpy and one runtime can re-check a bundle. Step models (streaming) are checked by
stepping each window from the zero state. `fresh=N` adds N new random windows, run through a
`reference` the caller passes (the CLI passes model.keras itself, `edgernn.export.reference`):
this module never imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import backends, optional
from .bundle import Bundle
from .compare import compare, error_stats, tolerance
from .errors import EdgeRNNError, InputError, IntegrityError, ManifestError
from .manifest import ROLES, STEP_ROLE, ArtifactEntry
from .stream import window_outputs

if TYPE_CHECKING:
    from .isolate import Limits

Reference = Callable[[np.ndarray], np.ndarray]  # model-unit windows -> the Keras outputs for them
GOLDEN = "golden"
RAW = "golden-raw"  # the raw-unit golden pair through the manifest's mapping
RAW_INPUTS, RAW_OUTPUTS = "raw_inputs", "raw_outputs"


@dataclass(frozen=True)
class Row:
    """One artifact run in one backend against one reference."""

    file: str
    format: str
    variant: str
    backend: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool
    problem: str = ""
    reference: str = GOLDEN  # 'golden' or 'fresh:N' (N new windows through model.keras)
    samples: int = 0
    p50_abs_error: float | None = None  # over windows of each window's max abs error
    p99_abs_error: float | None = None
    p99_of_range: float | None = None  # p99 as a share of the Keras output range the export measured

    def as_dict(self) -> dict:
        return asdict(self)


def validate(
    path: str | os.PathLike[str] | Bundle,
    backend_names: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    fresh: int = 0,
    seed: int = 0,
    reference: Reference | None = None,
    isolate: bool | Limits = False,
    threads: int = 1,
) -> list[Row]:
    """Validate a bundle. Returns one Row per (reference, artifact, backend).

    Args:
        path: the bundle directory (or an open Bundle).
        backend_names: backends to use (default: every installed one).
        variants: only these variants (default: all).
        fresh: also compare on this many new random windows, against `reference`.
        seed: seed of the fresh windows.
        reference: model-unit windows -> Keras outputs (e.g. `edgernn.export.reference.keras_reference`).
        isolate: first run every artifact x backend on the golden vectors in a child process under
            limits (edgernn.runtime.isolate): a crash or hang is a ModelLoadError naming the artifact.
        threads: runtime threads of each window model (as in `load`).

    The tolerance of each row is the one recorded in the manifest for that artifact (falling back to
    the project table), so a bundle can be held to a tighter bound by editing its manifest.

    Raises:
        ManifestError, IntegrityError: the bundle cannot be read or fails its hash check.
        InputError: fresh > 0 without a reference.

    Example:
        >>> all(row.passed for row in validate("models/seed-gru"))
        True
    """
    bundle = path if isinstance(path, Bundle) else Bundle.open(path)
    bundle.check_integrity()
    golden = bundle.golden()
    references = [(GOLDEN, golden["inputs"], golden["outputs"]), *raw_reference(bundle, golden)]
    if fresh > 0:
        if reference is None:
            raise InputError(
                f"fresh={fresh} needs a reference to compare with: pass reference= (model-unit windows "
                "-> Keras outputs), e.g. edgernn.export.reference.keras_reference(bundle_dir)."
            )
        windows = fresh_windows(golden["inputs"], fresh, seed)
        references.append((f"fresh:{fresh}", windows, np.asarray(reference(windows), dtype=np.float32)))
    held = [("holdout", golden["holdout_inputs"], golden["holdout_outputs"])] if "holdout_inputs" in golden else []
    if fresh > 0 and held:  # variants: new windows from the calibration's distribution, not uniform noise
        windows = mixed_windows(golden["holdout_inputs"], fresh, seed)
        held.append((f"fresh-holdout:{fresh}", windows, np.asarray(reference(windows), dtype=np.float32)))
    names = list(backend_names) if backend_names else backends.installed()
    plan = [
        (art, name)
        for art in bundle.manifest.artifacts(role=ROLES, variant=variants)  # a role this edgernn does not know: not run
        for name in names
        if backends.runs(name, art)
    ]
    if isolate:
        from .isolate import probe

        probe(bundle, [(name, art.file) for art, name in plan], isolate)
    rows = []
    for art, name in plan:
        tol = tolerance_of(art)
        rows += _rows_for(bundle, art, name, tol, _references_for(art, held, references), threads)
        rows += _self_test(bundle, art, name, tol)
    return rows


def raw_reference(bundle: Bundle, golden: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The raw-unit golden pair through this manifest's mapping, when golden.npz holds one.

    The model-unit pair never touches the mapping, so a manifest whose preprocessing was lost or edited
    would pass on it alone; this pair (what the source answered in raw units) then fails.
    """
    if RAW_INPUTS not in golden or RAW_OUTPUTS not in golden:
        return []
    spec = bundle.manifest.spec
    x = np.asarray(spec.x.to_model(golden[RAW_INPUTS]), dtype=np.float32)
    return [(RAW, x, np.asarray(spec.y.to_model(golden[RAW_OUTPUTS]), dtype=np.float32))]


def not_run(bundle: Bundle) -> list[str]:
    """A line per artifact that no installed backend runs (model.c with no C compiler, the tflm variant
    without tflite-micro): validate skips it, which is not a failure, and says so and what to install."""
    notes = []
    for art in bundle.manifest.artifacts(role=ROLES):
        able = [n for n in backends.REGISTRY if backends.runs(n, art)]
        if able and not any(backends.available(n) for n in able):
            hints = "; ".join(f"{n} backend: {backends.install_hint(n)}" for n in able)
            notes.append(f"{art.file}: skipped, no installed backend runs it ({hints})")
        for name in backends.REGISTRY:
            need = backends.unmet_need(name, art.variant)
            if need and art.format in backends.formats_of(name) and backends.available(name):
                notes.append(
                    f"{art.file}: skipped on {name}: its {art.variant} files need {need} ({optional.hint(need)})"
                )
    return notes


def _references_for(art: ArtifactEntry, held: list, references: list) -> list:
    """Quantized variants are checked on the held-out windows kept in golden.npz, like the data they were
    calibrated for (and with --fresh N on N blends of them); golden's and --fresh's uniform random windows
    lie outside that range, where int8 saturates."""
    return held if art.checked_on == "holdout" and held else references


def tolerance_of(art: ArtifactEntry) -> float:
    """The manifest's bound; else the table's, which for range-relative rows needs the export's range."""
    if art.tolerance is not None:
        return art.tolerance
    try:
        return tolerance(art.format, art.variant, art.output_range)
    except (KeyError, ValueError) as exc:
        raise ManifestError(f"artifact {art.file!r} records no tolerance and {exc}; re-export the bundle.") from None


def _rows_for(
    bundle: Bundle,
    art: ArtifactEntry,
    name: str,
    tol: float,
    references: list[tuple[str, np.ndarray, np.ndarray]],
    threads: int = 1,
) -> list[Row]:
    head = (art.file, art.format, art.variant, name)
    inf = float("inf")
    try:  # exactly this entry: load() would take the variant's first one
        if art.role == STEP_ROLE:  # stepped window by window from the zero state
            run = window_outputs(bundle.step_model(name, artifact=art))
        else:
            run = bundle.predictor(name, artifact=art, threads=threads).run_model_units
    except (ManifestError, IntegrityError):
        raise
    except EdgeRNNError as exc:  # a backend that cannot load the file is a failed row, not a crash
        return [
            Row(*head, inf, inf, tol, False, f"{type(exc).__name__}: {exc}", ref, len(x)) for ref, x, _ in references
        ]
    rows = []
    for ref, x, expected in references:
        try:
            got = run(x)
            result = compare(expected, got, tol)
        except EdgeRNNError as exc:
            rows.append(Row(*head, inf, inf, tol, False, f"{type(exc).__name__}: {exc}", ref, len(x)))
            continue
        stats = error_stats(expected, got, art.output_range)
        rows.append(
            Row(
                *head,
                result.max_abs_error,
                result.max_rel_error,
                tol,
                bool(result),
                result.problem,
                ref,
                len(x),
                stats.get("p50_abs_error"),
                stats.get("p99_abs_error"),
                stats.get("p99_of_range"),
            )
        )
    return rows


def _self_test(bundle: Bundle, art: ArtifactEntry, name: str, tol: float) -> list[Row]:
    """The row of a test program the artifact ships (the C format's model_test.c), if its backend runs one."""
    module = backends.backend_module(name)
    if not hasattr(module, "self_test"):
        return []
    try:
        found = module.self_test(bundle.read, art)
    except (ManifestError, IntegrityError):
        raise
    except EdgeRNNError as exc:
        found = (art.file, False, f"{type(exc).__name__}: {exc}")
    if found is None:
        return []
    file, passed, line = found
    err = 0.0 if passed else float("inf")
    return [Row(file, art.format, art.variant, name, err, err, tol, passed, "" if passed else line, file)]


def mixed_windows(held_out: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` new windows a*w_i + (1-a)*w_j of random pairs of held-out windows (a uniform in [0, 1]):
    inside the calibrated range step by step, yet none of them was seen at export."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(held_out), (2, count))
    a = rng.uniform(0, 1, (count, 1, 1)).astype(np.float32)
    return (a * held_out[i] + (1 - a) * held_out[j]).astype(np.float32)


def fresh_windows(golden_inputs: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` random windows (model units) spanning the golden inputs' range, widened to [-1, 1]."""
    lo = min(float(golden_inputs.min()), -1.0)
    hi = max(float(golden_inputs.max()), 1.0)
    shape = (count, *golden_inputs.shape[1:])
    if golden_inputs.dtype.kind in "iu":  # token ids: ids up to the largest the golden windows hold
        return np.random.default_rng(seed).integers(0, int(golden_inputs.max()) + 1, shape).astype(np.int32)
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)
