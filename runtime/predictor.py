"""The Predictor: input checks and preprocessing once, then the backend.

The hot path is kept lean: shapes and preprocessing are read from the manifest once at load and
folded into the cheapest operands (identity steps skipped), the backend's bound run method is
cached, and a float32 batch-1 call does a type check, tuple compares, an exact finiteness check
and the affine maps. benchmarks/run.py measures it against the raw interpreter call.
"""

from __future__ import annotations

from _thread import allocate_lock  # threading.Lock itself, without importing threading (cold start)
from math import isfinite
from struct import Struct  # imported by numpy already
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .manifest import ArtifactEntry

if TYPE_CHECKING:  # annotations only
    from collections.abc import Mapping

    from .backends import WindowRunner
    from .bundle import Bundle
    from .stream import StepModel, Stream

MAX_CHUNK = 4096  # rows per backend call: bounds memory for huge batches


_F32 = np.dtype(np.float32)
# Up to this many values, finiteness is checked by summing a Python list of doubles: a float32 can
# never overflow a double sum, so the sum is finite exactly when every value is (NaN and inf
# propagate, inf + -inf is NaN). Below this size it beats np.isfinite().all() several times over.
_SMALL = 64
_ND = np.ndarray
_sub, _mul, _div, _add = np.subtract, np.multiply, np.true_divide, np.add  # the ufuncs: no operator dispatch


class Predictor:
    """A loaded bundle bound to one backend and one artifact. Safe to share between threads."""

    _guard = True  # False in the per-call copy that predict(allow_nonfinite=True or timeout=S) runs (see _guarded)

    def __init__(self, bundle: Bundle, runner: WindowRunner, artifact: ArtifactEntry):
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.artifact = artifact
        self.spec = spec = bundle.manifest.spec
        self.backend = runner.name
        self.variant = artifact.variant
        self.runner = runner  # the loaded model in its runtime (WindowRunner)
        self._run = runner.run
        self._step_model: StepModel | None = None
        self._step_lock = allocate_lock()  # one StepModel per Predictor, even when streams open from many threads
        self._tail = spec.input_tail  # (timesteps, features), or (timesteps,) for token ids (runtime/tokens.py)
        self._out_tail = (spec.out_steps, spec.outputs) if spec.sequence_output else (spec.outputs,)
        # Affine.operands folded at load; applied inline below (a call to Affine.to_model would add a
        # Python frame per map on a 4 us call): the same ufuncs, so results are bit-identical.
        # A folded bundle's artifacts take and return raw units: no map at all on the hot path.
        self._x_off, self._x_scale = (None, None) if spec.folded else spec.x.operands
        self._y_off, self._y_scale = (None, None) if spec.folded else spec.y.operands
        self._x_map = self._x_off is not None or self._x_scale is not None
        self._y_map = self._y_off is not None or self._y_scale is not None
        self._free = spec.timesteps is None  # any T >= 1: the tail is checked per call
        self._free_seq = self._free and spec.sequence_output
        self._small_batch = _SMALL // spec.window_width  # batches checked by list sum
        self._empty = np.zeros((0, *(d or 0 for d in self._out_tail)), dtype=np.float32)
        # One window of a bundle without maps (folded, or identity units) and a small window: the
        # branch at the top of predict, with each check once (RESULTS.md: seed-simplernn 1.35 -> 1.28).
        self._direct = not self._x_map and not self._y_map and self._small_batch >= 1
        # None when not direct: then one tuple compare in predict says "one window" and "direct" at once.
        self._one = (1, *self._tail) if self._direct else None
        self._one_out = (1, *self._out_tail)
        # A one-thread LiteRT runner whose run() predict inlines for that one window (backends/litert.py), and
        # its own tuple for that shape: `r._hot is self._inline_one` says "sized for one window" (no compare).
        hot = getattr(runner, "_hot", None) if self._direct and getattr(runner, "inline_run", False) else None
        inline = hot is not None and hot == self._one
        self._inline = runner if inline else None
        self._inline_one = hot if inline else None
        self._unpack = Struct(f"{spec.window_width}f").unpack if inline else None

    def __repr__(self) -> str:
        return f"Predictor({self.bundle.folder!r}, backend={self.backend!r}, variant={self.variant!r})"

    @property
    def path(self):  # -> pathlib.Path, made on first use (cold start: runtime/bundle.py SMALL_FILE)
        return self.bundle.path

    def predict(self, x: Any, *, allow_nonfinite: bool = False, timeout: float | None = None) -> np.ndarray:
        """Predict from raw-unit windows.

        Args:
            x: array-like of shape (batch, timesteps, features) in raw units.
            allow_nonfinite: pass NaN/inf through to the model instead of refusing them. A window
                holding a NaN gives NaN outputs on every backend (docs/security.md, "NaN").
            timeout: seconds the whole call may take; then the runtime stops it (RunTimeoutError) and
                the model stays usable. onnxruntime only: the other backends cannot stop a running call
                (InputError); load(..., isolate=True) runs an untrusted bundle in a child first instead.

        Returns:
            float32 array (batch, outputs), or (batch, timesteps, outputs) for sequence models, raw units.

        Raises:
            InputError: wrong rank or shape, non-numeric or non-finite data; a timeout this backend cannot keep.
            ModelRunError: the runtime failed, or returned an answer of the wrong shape.
            RunTimeoutError: the call was stopped at `timeout` (a ModelRunError).
        """
        if allow_nonfinite or timeout is not None:
            if self._guard:
                return self._guarded(allow_nonfinite, timeout).predict(x, allow_nonfinite=allow_nonfinite)
        elif x.__class__ is _ND and x.dtype is _F32 and x.shape == self._inline_one:
            # The commonest call, one float32 window on one-thread LiteRT: each check once, in its cheapest
            # exact form, and LiteRTBackend.run inlined (a Python frame less; RESULTS.md "Hot path").
            try:
                values = self._unpack(x)  # the window's values as doubles, exactly (a C-contiguous x only)
            except ValueError:
                values = x.ravel().tolist()
            if sum(values) * 0:  # NaN exactly when a value is NaN or inf (see _SMALL)
                self._nonfinite()
            r = self._inline
            try:
                if not r._lock.acquire(False):
                    r.wait()
                try:
                    if r._hot is self._inline_one:  # read under the lock: another thread's resize rebinds _fast
                        r._fast[0](r._in, x)
                        r._fast[1]()
                        y = r._fast[2](r._out)
                    else:
                        y = r.run_held(x)
                except Exception:
                    r._build()  # as in run(): a failed invoke can leave the interpreter unusable
                    raise
                finally:
                    r._lock.release()
            except Exception as exc:
                raise self._run_error(exc) from None
            if y.shape == self._one_out and y.dtype is _F32:
                return y
            return self._checked_one(y)
        # Every other call: every check stays, each in its cheapest exact form (see _SMALL and Affine.operands).
        # Both backends accept non-contiguous arrays (tested), so no contiguity copy is made.
        if type(x) is not np.ndarray or x.dtype is not _F32:
            x = self._as_float32(x)
        shape = x.shape
        if shape == self._one:
            if not (allow_nonfinite or isfinite(sum(x.ravel().tolist()))):
                self._nonfinite()
            try:
                y = self._run(x)
            except Exception as exc:
                raise self._run_error(exc) from None
            return self._checked_one(y)
        if shape[1:] != self._tail and not (self._free and len(shape) == 3 and shape[1] and shape[2] == self._tail[1]):
            self._bad_shape(shape)  # a (timesteps, features) tail implies rank 3
        n = shape[0]
        if not allow_nonfinite:
            if n <= self._small_batch:
                if not isfinite(sum(x.ravel().tolist())):
                    self._nonfinite()
            elif not np.isfinite(x).all():
                self._nonfinite()
        if self._x_map:
            if self._x_off is not None:
                x = _sub(x, self._x_off)
            if self._x_scale is not None:
                x = _mul(x, self._x_scale)
        try:  # free when nothing is raised; a runtime's own exception types never escape
            if 0 < n <= MAX_CHUNK:
                y = self._run(x)
            elif n == 0:
                return np.zeros((0, *self._free_tail(shape)), np.float32) if self._free_seq else self._empty.copy()
            else:
                y = np.concatenate([self._run(x[i : i + MAX_CHUNK]) for i in range(0, n, MAX_CHUNK)])
        except Exception as exc:
            raise self._run_error(exc) from None
        if (y.shape[1:] != self._out_tail and y.shape[1:] != self._free_tail(shape)) or len(y) != n:
            self._bad_output(y)
        if self._y_map:
            if self._y_scale is not None:
                y = _div(y, self._y_scale)
            if self._y_off is not None:
                y = _add(y, self._y_off)
        return y if y.dtype is _F32 else y.astype(np.float32)

    def stream(self, batch: int = 1, initial_state: Mapping[str, Any] | None = None) -> Stream:
        """A new Stream (runtime/stream.py): `step(x_t) -> y_t` with the state carried for you.

        All streams of this Predictor share one loaded step model of the same format and variant.
        `initial_state`: for a model called with initial_state= inputs, {input name: (batch, size)} to start
        from (model units); without it every state starts from zeros.

        Raises:
            UnsupportedModelError: the bundle was exported without --streaming.

        Example:
            >>> s = load("models/seed-lstm").stream()
            >>> [float(s.step([v])[0]) for v in (6, 7, 8, 9)][-1] > 0
            True
        """
        from .stream import Stream  # imported on first use: a predict-only app never loads streaming

        return Stream(self.step_model(), batch, initial_state)

    def step_model(self) -> StepModel:
        """The step model shared by this Predictor's streams (loaded on first use)."""
        with self._step_lock:
            if self._step_model is None:
                self._step_model = self.bundle.step_model(self.backend, self.variant, fmt=self.artifact.format)
            return self._step_model

    def run_model_units(self, xm: np.ndarray) -> np.ndarray:
        """Run already-preprocessed float32 windows (model units) and return model-unit outputs
        (through the raw units a folded artifact works in)."""
        folded = self.spec.folded
        x = self.spec.x.to_raw(xm).astype(np.float32) if folded else xm
        try:
            y = self._run(np.ascontiguousarray(x, dtype=np.float32))
        except Exception as exc:
            raise self._run_error(exc) from None
        return self.spec.y.to_model(y).astype(np.float32) if folded else y

    def _guarded(self, allow_nonfinite: bool, timeout: float | None) -> Predictor:
        """A copy of this Predictor for one call with a deadline and/or NaN passed through (runtime/guarded.py)."""
        from .guarded import guarded  # imported on first use: a plain predict never needs it

        return guarded(self, allow_nonfinite, timeout)

    # guard.py is imported on the calls that need it: a float32 array that runs never does (cold start).
    def _as_float32(self, x: Any) -> np.ndarray:
        from .guard import as_float32

        return as_float32(x, self._tail)  # the same conversion as Stream.step

    def _run_error(self, exc: BaseException) -> Exception:
        from .guard import run_error

        return run_error(exc, self.artifact.file)

    def _checked_one(self, y: np.ndarray) -> np.ndarray:
        """One window's answer, refused when its shape is wrong, as float32."""
        if y.shape != self._one_out:
            self._bad_output(y)
        return y if y.dtype is _F32 else y.astype(np.float32)

    def _free_tail(self, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """A free-T sequence model's output tail for input `shape` (None when T is fixed: no second chance)."""
        return (shape[1], self.spec.outputs) if self._free and self.spec.sequence_output else None

    def _bad_output(self, y: np.ndarray) -> None:
        raise self._run_error(ValueError(f"output shape {y.shape}, expected (batch, *{self._out_tail})"))

    def _bad_shape(self, shape: tuple[int, ...]) -> None:
        hint = " Add a batch axis: x[None]." if shape == self._tail else ""
        raise InputError(
            f"expected shape (batch, {self._tail[0]}, {self._tail[1]}) = (batch, timesteps, features), "
            f"got {shape}.{hint}"
        )

    @staticmethod
    def _nonfinite() -> None:
        raise InputError("input contains NaN or inf; clean it, or pass allow_nonfinite=True to run it anyway.")


__all__ = ["Predictor"]
