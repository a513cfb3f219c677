"""Token-id inputs (an Embedding first): predict takes int32 ids shaped (batch, timesteps).

A bundle whose manifest says `input.dtype: "int32"` gets a TokenPredictor at load (runtime/bundle.py
chooses the class once), so the float32 Predictor's hot path carries no token branch. Ids are checked
exactly: integers (or floats holding whole numbers) in [0, vocabulary); preprocessing maps never apply
to ids (export refuses them), only the output map does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .guard import numeric, run_error
from .predictor import MAX_CHUNK, Predictor

_I32 = np.dtype(np.int32)


class TokenPredictor(Predictor):
    """A Predictor for an int32 token input; `predict(ids)` with ids shaped (batch, timesteps)."""

    def predict(self, x: Any, *, allow_nonfinite: bool = False, timeout: float | None = None) -> np.ndarray:
        """Predict from token ids.

        Args:
            x: integer ids shaped (batch, timesteps), each in [0, vocabulary); 0 is padding for a
                mask_zero Embedding. Floats are accepted only when they hold whole numbers.
            allow_nonfinite, timeout: as for `Predictor.predict` (ids are never NaN: floats that are
                refused either way).

        Returns:
            float32 array (batch, outputs), or (batch, timesteps, outputs) for sequence models, raw units.

        Raises:
            InputError: wrong shape, non-integer values, ids outside [0, vocabulary).
            ModelRunError: the runtime failed, or returned an answer of the wrong shape.
        """
        if (allow_nonfinite or timeout is not None) and self._guard:
            return self._guarded(False, timeout).predict(x)
        x = self.token_ids(x)
        n = len(x)
        if n == 0:
            return np.zeros((0, *self._free_tail(x.shape)), np.float32) if self._free_seq else self._empty.copy()
        try:
            if n <= MAX_CHUNK:
                y = self._run(x)
            else:
                y = np.concatenate([self._run(x[i : i + MAX_CHUNK]) for i in range(0, n, MAX_CHUNK)])
        except Exception as exc:
            raise run_error(exc, self.artifact.file) from None
        if (y.shape[1:] != self._out_tail and y.shape[1:] != self._free_tail(x.shape)) or len(y) != n:
            self._bad_output(y)
        if self._y_map:
            y = self.spec.y.to_raw(y)
        return y if y.dtype is np.dtype(np.float32) else y.astype(np.float32)

    def token_ids(self, x: Any) -> np.ndarray:
        """`x` checked and as contiguous int32 (batch, timesteps); InputError saying what came and what is expected."""
        vocabulary, steps = self.spec.vocabulary, self._tail[0]
        want = f"integer token ids shaped (batch, {steps}) in [0, {vocabulary})"
        arr = numeric(x, self._tail)
        ok = arr.ndim == 2 and (arr.shape[1] == steps or (steps is None and arr.shape[1] >= 1))
        if not ok:
            hint = " Add a batch axis: x[None]." if arr.ndim == 1 else ""
            raise InputError(f"expected {want}, got shape {arr.shape}.{hint}")
        if arr.dtype.kind == "f":
            whole = np.isfinite(arr) & (arr == np.round(arr)) if arr.size else np.ones(0, bool)
            if not whole.all():
                bad = arr[~whole].flat[0].item()
                raise InputError(
                    f"expected {want}, got {arr.dtype} values that are not whole numbers (such as {bad!r}); "
                    "pass the token ids themselves (np.int32), not embeddings or normalised values."
                )
        if arr.size:
            low, high = arr.min(), arr.max()
            if low < 0 or high >= vocabulary:
                bad = low if low < 0 else high
                raise InputError(
                    f"expected {want}, got id {bad.item()!r} outside the vocabulary; map unknown tokens to an id "
                    f"below {vocabulary} (an out-of-vocabulary id) before predict."
                )
        return np.ascontiguousarray(arr, dtype=_I32)

    def run_model_units(self, xm: np.ndarray) -> np.ndarray:
        """Token ids in (no map applies to them), model-unit outputs."""
        try:
            return self._run(np.ascontiguousarray(xm, dtype=_I32))
        except Exception as exc:
            raise run_error(exc, self.artifact.file) from None

    def _bad_shape(self, shape: tuple[int, ...]) -> None:
        raise InputError(f"expected integer token ids shaped (batch, {self._tail[0]}), got {shape}.")


__all__ = ["TokenPredictor"]
