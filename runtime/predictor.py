"""`load` and the Predictor: input checks and preprocessing once, then the backend.

The hot path is kept lean: shapes and preprocessing are read from the manifest once at load and
folded into the cheapest operands (identity steps skipped), the backend's bound run method is
cached, and a float32 batch-1 call does a type check, tuple compares, an exact finiteness check
and the affine maps. benchmarks/run.py measures it against the raw interpreter call.
"""
from __future__ import annotations

from math import isfinite
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .bundle import find_artifact, read_checked
from .errors import BackendUnavailableError, InputError
from .guard import as_float32, run_error
from .manifest import Affine, read_manifest, spec_from_manifest

DEFAULT_VARIANT = "float32"
MAX_CHUNK = 4096  # rows per backend call: bounds memory for huge batches


_F32 = np.dtype(np.float32)
# Up to this many values, finiteness is checked by summing a Python list of doubles: a float32 can
# never overflow a double sum, so the sum is finite exactly when every value is (NaN and inf
# propagate, inf + -inf is NaN). Below this size it beats np.isfinite().all() several times over.
_SMALL = 64
_sub, _mul, _div, _add = np.subtract, np.multiply, np.true_divide, np.add


def _fold(affine: Affine) -> tuple[Any, Any]:
    """(offset, scale) as cheap operands: None when the step is the identity, a numpy float32 scalar
    when one value serves every channel (numpy's fastest ufunc path), else the float32 array.
    Every form computes in float32, so results are bit-identical to the plain formula."""

    def simplest(values: np.ndarray, neutral: float) -> Any:
        if np.all(values == neutral):
            return None
        return np.float32(values[0]) if np.all(values == values[0]) else values

    return simplest(affine.offset, 0.0), simplest(affine.scale, 1.0)


class Predictor:
    """A loaded bundle bound to one backend and one artifact. Safe to share between threads."""

    def __init__(self, bundle: Path, manifest: dict[str, Any], backend: backends.Backend, artifact: dict[str, Any]):
        self.bundle = bundle
        self.manifest = manifest
        self.artifact = artifact
        self.spec = spec = spec_from_manifest(manifest)
        self.backend = backend.name
        self.variant = artifact["variant"]
        self._backend = backend
        self._run = backend.run
        self._tail = (spec.timesteps, spec.features)
        self._out_tail = (spec.timesteps, spec.outputs) if spec.sequence_output else (spec.outputs,)
        self._x_off, self._x_scale = _fold(spec.x)
        self._y_off, self._y_scale = _fold(spec.y)
        self._x_map = self._x_off is not None or self._x_scale is not None
        self._y_map = self._y_off is not None or self._y_scale is not None
        self._small_batch = _SMALL // (spec.timesteps * spec.features)  # batches checked by list sum
        self._empty = np.zeros((0, *self._out_tail), dtype=np.float32)

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
            ModelRunError: the runtime failed, or returned an answer of the wrong shape.
        """
        # Hot path: every check stays, each in its cheapest exact form (see _SMALL and _fold).
        # Both backends accept non-contiguous arrays (tested), so no contiguity copy is made.
        if type(x) is not np.ndarray or x.dtype is not _F32:
            x = self._as_float32(x)
        shape = x.shape
        if shape[1:] != self._tail:  # a (timesteps, features) tail implies rank 3
            self._bad_shape(shape)
        n = shape[0]
        if not allow_nonfinite:
            if n <= self._small_batch:
                if not isfinite(sum(x.ravel().tolist())):
                    self._nonfinite()
            elif not np.isfinite(x).all():
                self._nonfinite()
        if self._x_map:
            if self._x_off is not None:
                x = _sub(x, self._x_off)  # the ufuncs directly: skips the operator's dispatch
            if self._x_scale is not None:
                x = _mul(x, self._x_scale)
        try:  # free when nothing is raised; a runtime's own exception types never escape
            if 0 < n <= MAX_CHUNK:
                y = self._run(x)
            elif n == 0:
                return self._empty.copy()
            else:
                y = np.concatenate([self._run(x[i : i + MAX_CHUNK]) for i in range(0, n, MAX_CHUNK)])
        except Exception as exc:
            raise run_error(exc, self.artifact["file"]) from None
        if y.shape[1:] != self._out_tail or len(y) != n:  # a damaged model can return anything
            raise run_error(ValueError(f"output shape {y.shape}, expected (batch, *{self._out_tail})"), self.artifact["file"])
        if self._y_map:
            if self._y_scale is not None:
                y = _div(y, self._y_scale)
            if self._y_off is not None:
                y = _add(y, self._y_off)
        return y if y.dtype is _F32 else y.astype(np.float32)

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

    def _as_float32(self, x: Any) -> np.ndarray:
        return as_float32(x, self._tail)  # the same conversion as Stream.step

    def _bad_shape(self, shape: tuple[int, ...]) -> None:
        hint = " Add a batch axis: x[None]." if shape == self._tail else ""
        raise InputError(
            f"expected shape (batch, {self._tail[0]}, {self._tail[1]}) = (batch, timesteps, features), "
            f"got {shape}.{hint}"
        )

    @staticmethod
    def _nonfinite() -> None:
        raise InputError("input contains NaN or inf; clean it, or pass allow_nonfinite=True to run it anyway.")


def _model_pairs(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted({(a["format"], a["variant"]) for a in manifest["artifacts"] if a.get("role", "model") == "model"})


def _check_variant(manifest: dict[str, Any], variant: str, where: str = "this bundle") -> None:
    """A variant the bundle does not hold is the caller's mistake (InputError), whatever is installed."""
    have = _model_pairs(manifest)
    if variant not in {v for _, v in have}:
        raise InputError(f"{where}: no artifact of variant {variant!r}; the bundle has (format, variant) {have}. "
                         "Pick one of those variants, or export this one (edgernn export --quantize).")


def _artifact_for(manifest: dict[str, Any], backend: str, variant: str, bundle: Path) -> dict[str, Any]:
    artifact = find_artifact(manifest, backends.formats_of(backend), variant)
    if artifact is None:
        raise InputError(
            f"{bundle}: no artifact for backend {backend!r} and variant {variant!r}; the bundle has "
            f"(format, variant) {_model_pairs(manifest)}. Pick another backend or variant, or export that variant."
        )
    return artifact


def choose_backend(manifest: dict[str, Any], variant: str) -> str:
    """The `auto` rule: the first installed backend, in `backends.auto_order`, with an artifact for `variant`.

    Raises:
        InputError: the bundle has no artifact of `variant`.
        BackendUnavailableError: it has one, but no installed backend runs its format.
    """
    _check_variant(manifest, variant)
    names = backends.auto_order(manifest)
    for name in names:
        if find_artifact(manifest, backends.formats_of(name), variant) is not None:
            return name
    raise BackendUnavailableError(
        f"no installed backend can run variant {variant!r} of this bundle (installed: {names or 'none'}; the "
        f"bundle has (format, variant) {_model_pairs(manifest)}). Install one: pip install 'edgernn[litert]' or "
        "'edgernn[onnx]', or re-export the bundle with the 'numpy' format, which needs no runtime."
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
    _check_variant(manifest, variant, str(bundle))
    name = choose_backend(manifest, variant) if backend == "auto" else backend
    artifact = _artifact_for(manifest, name, variant, bundle)
    content = read_checked(bundle, artifact, verify=verify)
    runner = backends.open_backend(name, content, artifact, spec_from_manifest(manifest))
    return Predictor(bundle, manifest, runner, artifact)


__all__ = ["Predictor", "load", "choose_backend"]
