"""predict(..., timeout=S) and predict(..., allow_nonfinite=True): a per-call copy of the Predictor.

Imported on first use (Predictor._guarded): a plain predict, and every load, never reads this module.
"""

from __future__ import annotations

import copy
from math import isnan
from time import monotonic
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError, RunTimeoutError

if TYPE_CHECKING:
    from .predictor import Predictor


def guarded(predictor: Predictor, allow_nonfinite: bool, timeout: float | None) -> Predictor:
    """A copy of `predictor` for one call, whose backend call keeps a deadline and/or gives NaN for every
    window holding a NaN (onnxruntime's LSTM/GRU kernels clamp NaN to a finite number inside their
    activations, where LiteRT and numpy propagate it). The copy takes the general path of predict."""
    run = predictor._run
    if timeout is not None:
        run = _deadline_run(predictor, timeout)
    if allow_nonfinite:
        run = _nan_windows(run)
    out = copy.copy(predictor)
    out._run, out._guard, out._inline, out._inline_one = run, False, None, None
    return out


def _deadline_run(predictor: Predictor, timeout: float):
    run_within = getattr(predictor.runner, "run_within", None)
    backend = predictor.backend
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or isnan(timeout) or timeout <= 0:
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    if run_within is None:
        raise InputError(
            f"timeout={timeout:g}: the {backend} backend cannot stop a call once it runs; only onnxruntime "
            "can (at one thread, or threads=N on its own pool). "
            "Use backend='onnxruntime', or drop timeout and load an untrusted bundle with isolate=True."
        )
    deadline, file = monotonic() + timeout, predictor.artifact.file

    def run(x: np.ndarray) -> np.ndarray:
        try:
            return run_within(x, deadline - monotonic())
        except RunTimeoutError:
            raise RunTimeoutError(
                f"{file}: predict did not finish within timeout={timeout:g} s on {backend}, so the "
                "runtime stopped it (a graph that loops, or a batch too big for that time); the model stays "
                "loaded. Give a longer timeout or a smaller batch, or run 'edgernn validate' on the bundle."
            ) from None

    return run


def _nan_windows(run):
    """`run`, with NaN in every output of each window whose input holds a NaN."""

    def poisoned(x: np.ndarray) -> np.ndarray:
        y = run(x)
        bad = np.isnan(x).any(axis=tuple(range(1, x.ndim)))
        if bad.any():
            y = np.array(y, dtype=np.float32)
            y[bad] = np.nan
        return y

    return poisoned


__all__ = ["guarded"]
