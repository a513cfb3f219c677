"""Cross-runtime validation: every artifact x every installed backend against the Keras outputs.

The reference is the bundle's golden vectors (Keras outputs recorded at export time), so a device
with only numpy and one runtime can re-check a bundle. Step models (streaming) are checked by
stepping each window from the zero state. With TensorFlow installed, `fresh=N` adds N
new random windows run through `model.keras` itself (imported lazily, inside `_keras_outputs`).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import backends
from .bundle import load_golden, read_checked
from .compare import compare, tolerance
from .errors import EdgeRNNError, IntegrityError, ManifestError, missing_extra
from .manifest import read_manifest, spec_from_manifest
from .predictor import Predictor
from .stream import STEP_ROLE, StepModel, window_outputs

GOLDEN = "golden"


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

    def as_dict(self) -> dict:
        return asdict(self)


def open_artifact(bundle: Path, manifest: dict[str, Any], art: dict[str, Any], backend: str) -> Predictor:
    """A Predictor for exactly this artifact entry (load() picks the first one of a variant).

    Raises:
        IntegrityError, ManifestError: the file differs from the manifest or is missing.
        ModelLoadError, UnsupportedModelError, BackendUnavailableError: the backend cannot run it.
    """
    content = read_checked(bundle, art)
    runner = backends.open_backend(backend, content, art, spec_from_manifest(manifest))
    return Predictor(bundle, manifest, runner, art)


def model_artifacts(manifest: dict[str, Any], variants: Sequence[str] | None = None,
                    roles: Sequence[str] = ("model", STEP_ROLE)) -> list[dict[str, Any]]:
    """The manifest's artifacts of these roles (window models, step models), optionally only some variants."""
    return [a for a in manifest["artifacts"]
            if a.get("role", "model") in roles and (not variants or a["variant"] in variants)]


def check_integrity(bundle: Path, manifest: dict[str, Any]) -> None:
    """Hash every file the manifest lists before anything runs; model.keras only if it was shipped.

    Raises:
        IntegrityError, ManifestError: the first file that is missing or differs.
    """
    for art in manifest["artifacts"]:
        read_checked(bundle, art)
    source = manifest.get("source")
    if isinstance(source, dict) and (bundle / str(source.get("file", ""))).is_file():
        read_checked(bundle, source)


def validate(path: str | Path, backend_names: Sequence[str] | None = None, variants: Sequence[str] | None = None,
             fresh: int = 0, seed: int = 0) -> list[Row]:
    """Validate a bundle. Returns one Row per (reference, artifact, backend).

    Args:
        path: the bundle directory.
        backend_names: backends to use (default: every installed one).
        variants: only these variants (default: all).
        fresh: also compare with model.keras on this many new random windows (needs TensorFlow).
        seed: seed of the fresh windows.

    The tolerance of each row is the one recorded in the manifest for that artifact (falling back to
    the project table), so a bundle can be held to a tighter bound by editing its manifest.

    Raises:
        ManifestError, IntegrityError: the bundle cannot be read or fails its hash check.
        MissingExtraError: fresh > 0 without TensorFlow installed.
    """
    bundle = Path(path)
    manifest = read_manifest(bundle)
    check_integrity(bundle, manifest)
    golden = load_golden(bundle, manifest)
    references = [(GOLDEN, golden["inputs"], golden["outputs"])]
    if fresh > 0:
        windows = fresh_windows(golden["inputs"], fresh, seed)
        references.append((f"fresh:{fresh}", windows, _keras_outputs(bundle, manifest, windows)))
    names = list(backend_names) if backend_names else backends.installed()
    rows = []
    for art in model_artifacts(manifest, variants):
        tol = _tolerance_of(art)
        for name in names:
            if art["format"] in backends.formats_of(name):
                rows += _rows_for(bundle, manifest, art, name, tol, _references_for(art, golden, references))
    return rows


def _references_for(art: dict[str, Any], golden: dict[str, np.ndarray], references: list) -> list:
    """Quantized variants are checked on the held-out windows kept in golden.npz, like the data they were
    calibrated for; golden's and --fresh's random windows lie outside that range, where int8 saturates."""
    if art.get("checked_on") == "holdout" and "holdout_inputs" in golden:
        return [("holdout", golden["holdout_inputs"], golden["holdout_outputs"])]
    return references


def _tolerance_of(art: dict[str, Any]) -> float:
    """The manifest's bound; else the table's, which for range-relative rows needs the export's range."""
    if "tolerance" in art:
        return float(art["tolerance"])
    try:
        return tolerance(art["format"], art["variant"], art.get("output_range"))
    except (KeyError, ValueError) as exc:
        raise ManifestError(f"artifact {art['file']!r} records no tolerance and {exc}; re-export the bundle.") from None


def _rows_for(bundle: Path, manifest: dict[str, Any], art: dict[str, Any], name: str, tol: float,
              references: list[tuple[str, np.ndarray, np.ndarray]]) -> list[Row]:
    head = (art["file"], art["format"], art["variant"], name)
    inf = float("inf")
    try:
        if art.get("role", "model") == STEP_ROLE:  # stepped window by window from the zero state
            # exactly this entry: load() + the predictor's step model would take the variant's first one
            run = window_outputs(StepModel.open_artifact(bundle, manifest, spec_from_manifest(manifest), name, art))
        else:
            run = open_artifact(bundle, manifest, art, name).run_model_units
    except (ManifestError, IntegrityError):
        raise
    except EdgeRNNError as exc:  # a backend that cannot load the file is a failed row, not a crash
        return [Row(*head, inf, inf, tol, False, f"{type(exc).__name__}: {exc}", ref, len(x))
                for ref, x, _ in references]
    rows = []
    for ref, x, expected in references:
        try:
            result = compare(expected, run(x), tol)
        except EdgeRNNError as exc:
            rows.append(Row(*head, inf, inf, tol, False, f"{type(exc).__name__}: {exc}", ref, len(x)))
            continue
        rows.append(Row(*head, result.max_abs_error, result.max_rel_error, tol, bool(result), result.problem,
                        ref, len(x)))
    return rows


def fresh_windows(golden_inputs: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` random windows (model units) spanning the golden inputs' range, widened to [-1, 1]."""
    lo = min(float(golden_inputs.min()), -1.0)
    hi = max(float(golden_inputs.max()), 1.0)
    shape = (count, *golden_inputs.shape[1:])
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def _keras_outputs(bundle: Path, manifest: dict[str, Any], windows: np.ndarray) -> np.ndarray:
    """Run model.keras on `windows`. TensorFlow is imported here only, never by the runtime at load."""
    source = manifest.get("source")
    if not isinstance(source, dict) or not (bundle / str(source.get("file", ""))).is_file():
        raise ManifestError(f"{bundle}: --fresh needs the bundle's model.keras, which is not there; "
                            "validate with the golden vectors only (drop --fresh).")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's start-up chatter would bury the table
    try:
        import keras
    except ImportError:
        raise missing_extra("tensorflow", "train", "validate --fresh (running model.keras)") from None
    model = keras.models.load_model(bundle / source["file"], safe_mode=True, compile=False)
    return np.asarray(model(windows, training=False), dtype=np.float32)
