"""Cross-runtime validation: the bundle's golden vectors through every artifact x installed backend."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from . import backends
from .bundle import load_golden
from .compare import compare, tolerance
from .errors import EdgeRNNError
from .manifest import read_manifest
from .predictor import load
from .stream import STEP_ROLE, window_outputs


@dataclass(frozen=True)
class Row:
    """One artifact run in one backend on the golden inputs."""

    file: str
    format: str
    variant: str
    backend: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool
    problem: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def validate(path: str | Path, backend_names: Sequence[str] | None = None, variants: Sequence[str] | None = None) -> list[Row]:
    """Validate a bundle. Returns one Row per (artifact, backend) pair that could run.

    The tolerance of each row is the one recorded in the manifest for that artifact (falling back to
    the project table), so a bundle can be held to a tighter bound by editing its manifest.

    Raises:
        ManifestError, IntegrityError: the bundle cannot be read or fails its hash check.
    """
    bundle = Path(path)
    manifest = read_manifest(bundle)
    golden = load_golden(bundle, manifest)
    names = list(backend_names) if backend_names else backends.installed()
    rows = []
    for art in manifest["artifacts"]:
        role = art.get("role", "model")
        if role not in ("model", STEP_ROLE) or (variants and art["variant"] not in variants):
            continue
        tol = float(art.get("tolerance", tolerance(art["format"], art["variant"])))
        for name in names:
            if art["format"] not in backends.formats_of(name):
                continue
            predictor = load(bundle, backend=name, variant=art["variant"])
            try:
                # a step model is checked by stepping each golden window from the zero state
                run = predictor.run_model_units if role == "model" else window_outputs(predictor)
                result = compare(golden["outputs"], run(golden["inputs"]), tol)
            except EdgeRNNError as exc:
                rows.append(Row(art["file"], art["format"], art["variant"], name, float("inf"), float("inf"), tol, False, str(exc)))
                continue
            rows.append(
                Row(art["file"], art["format"], art["variant"], name, result.max_abs_error,
                    result.max_rel_error, tol, bool(result), result.problem)
            )
    return rows
