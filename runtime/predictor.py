"""`load` and the Predictor: input checks and preprocessing once, then the backend.

The hot path is kept lean: shapes and preprocessing are read from the manifest once at load,
the backend's bound run method is cached, and a batch-1 call does one dtype conversion, two cheap
shape checks, a finiteness check and the affine maps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .bundle import find_artifact, read_checked
from .errors import BackendUnavailableError, InputError, ManifestError
from .guard import numeric, run_error
from .manifest import read_manifest, spec_from_manifest

DEFAULT_VARIANT = "float32"
MAX_CHUNK = 4096  # rows per backend call: bounds memory for huge batches


class Predictor:
    """A loaded bundle bound to one backend and one artifact. Safe to share between threads."""

    def __init__(self, bundle: Path, manifest: dict[str, Any], backend: backends.Backend, artifact: dict[str, Any]):
        self.bundle = bundle
        self.manifest = manifest
        self.artifact = artifact
        self.spec = spec_from_manifest(manifest)
        self.backend = backend.name
        self.variant = artifact["variant"]
        self._backend = backend
        self._run = backend.run
        self._tail = (self.spec.timesteps, self.spec.features)
        self._out_tail = (self.spec.timesteps, self.spec.outputs) if self.spec.sequence_output else (self.spec.outputs,)

    def __repr__(self) -> str:
        return f"Predictor({str(self.bundle)!r}, backend={self.backend!r}, variant={self.variant!r})"

    def predict(self, x: Any, *, allow_nonfinite: bool = False) -> np.ndarray:
        """Predict from raw-unit windows.

        Args:
            x: array-like of shape (batch, timesteps, features) in raw units.
            allow_nonfinite: pass NaN/inf through to the model instead of refusing them.

        Returns:
            float32 array (batch, outputs), or (batch, timesteps, outputs) for sequence models, raw units.

        Raises:
            InputError: wrong rank or shape, non-numeric or non-finite data.
        """
        x = self._check(x, allow_nonfinite)
        spec = self.spec
        if x.shape[0] == 0:
            tail = (spec.timesteps, spec.outputs) if spec.sequence_output else (spec.outputs,)
            return np.zeros((0, *tail), dtype=np.float32)
        xm = np.ascontiguousarray(spec.x.to_model(x), dtype=np.float32)
        try:  # free when nothing is raised; a runtime's own exception types never escape
            if xm.shape[0] <= MAX_CHUNK:
                ym = self._run(xm)
            else:
                ym = np.concatenate([self._run(xm[i : i + MAX_CHUNK]) for i in range(0, xm.shape[0], MAX_CHUNK)])
        except Exception as exc:
            raise run_error(exc, self.artifact["file"]) from None
        if ym.shape != x.shape[:1] + self._out_tail:  # a damaged model can return anything
            raise run_error(ValueError(f"output shape {ym.shape}, expected (batch, *{self._out_tail})"), self.artifact["file"])
        return spec.y.to_raw(ym).astype(np.float32, copy=False)

    def stream(self, batch: int = 1):
        """A new Stream (runtime/stream.py): `step(x_t) -> y_t` with the state carried for you.

        All streams of this Predictor share one loaded step model of the same format and variant.

        Raises:
            UnsupportedModelError: the bundle was exported without --streaming.
        """
        from .stream import open_stream

        return open_stream(self, batch)

    def run_model_units(self, xm: np.ndarray) -> np.ndarray:
        """Run already-preprocessed float32 windows (model units) and return model-unit outputs."""
        try:
            return self._run(np.ascontiguousarray(xm, dtype=np.float32))
        except Exception as exc:
            raise run_error(exc, self.artifact["file"]) from None

    def _check(self, x: Any, allow_nonfinite: bool) -> np.ndarray:
        if type(x) is not np.ndarray or x.dtype.kind not in "biuf":
            x = numeric(x, self._tail)  # strings, objects, complex: refused, not coerced
        try:
            arr = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"expected numbers shaped (batch, {self._tail[0]}, {self._tail[1]}), got data numpy cannot "
                f"turn into float32 ({exc})."
            ) from None
        if arr.ndim != 3 or arr.shape[1:] != self._tail:
            hint = " Add a batch axis: x[None]." if arr.shape == self._tail else ""
            raise InputError(
                f"expected shape (batch, {self._tail[0]}, {self._tail[1]}) = (batch, timesteps, features), "
                f"got {arr.shape}.{hint}"
            )
        if not allow_nonfinite and not np.isfinite(arr).all():
            raise InputError("input contains NaN or inf; clean it, or pass allow_nonfinite=True to run it anyway.")
        return arr


def _artifact_for(manifest: dict[str, Any], backend: str, variant: str, bundle: Path) -> dict[str, Any]:
    artifact = find_artifact(manifest, backends.formats_of(backend), variant)
    if artifact is None:
        have = sorted({(a["format"], a["variant"]) for a in manifest["artifacts"]})
        raise InputError(
            f"{bundle}: no artifact for backend {backend!r} and variant {variant!r}; the bundle has "
            f"(format, variant) {have}. Pick another backend or variant, or export that variant."
        )
    return artifact


def choose_backend(manifest: dict[str, Any], variant: str) -> str:
    """The `auto` rule: the first installed backend, in registry order, with an artifact for `variant`."""
    names = backends.installed()
    for name in names:
        if find_artifact(manifest, backends.formats_of(name), variant) is not None:
            return name
    raise BackendUnavailableError(
        f"no installed backend can run variant {variant!r} of this bundle (installed: {names or 'none'}). "
        "Install one: pip install 'edgernn[litert]' or 'edgernn[onnx]'."
    )


def load(path: str | Path, backend: str = "auto", variant: str = DEFAULT_VARIANT, *, verify: bool = True) -> Predictor:
    """Load a bundle directory and bind it to a backend.

    Args:
        path: the bundle directory (holding manifest.json).
        backend: 'auto', or a name from `edgernn.runtime.backends.REGISTRY`.
        variant: which artifact variant to run ('float32', or a quantized one).
        verify: check each file's size and sha256 against the manifest (False only for debugging).

    Raises:
        ManifestError, IntegrityError, ModelLoadError, UnsupportedModelError, InputError,
        BackendUnavailableError.
    """
    bundle = Path(path)
    manifest = read_manifest(bundle)
    name = choose_backend(manifest, variant) if backend == "auto" else backend
    artifact = _artifact_for(manifest, name, variant, bundle)
    content = read_checked(bundle, artifact, verify=verify)
    runner = backends.open_backend(name, content, artifact, spec_from_manifest(manifest))
    return Predictor(bundle, manifest, runner, artifact)


__all__ = ["Predictor", "load", "choose_backend", "ManifestError"]
