"""Guards between edgernn and a runtime: the data fed to it, and the errors that come out of it.

A runtime raises its own exception types (onnxruntime's Fail/InvalidArgument, LiteRT's
RuntimeError/ValueError, even UnicodeDecodeError on a mangled message); none of them may escape
`load` or `predict`, so an application that catches `EdgeRNNError` keeps serving.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import EdgeRNNError, InputError, ModelRunError


def run_error(exc: BaseException, file: str) -> EdgeRNNError:
    """The typed error to raise for an exception that came out of a backend's run."""
    if isinstance(exc, EdgeRNNError):
        return exc
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return ModelRunError(
        f"{file}: the runtime failed while running the model ({type(exc).__name__}: {text}). The file may be "
        "damaged: run 'edgernn validate' on the bundle, or restore it."
    )


def numeric(x: Any, tail: tuple[int, ...]) -> Any:
    """`x` as an array of real numbers, or InputError: strings, objects and complex are never coerced.

    `tail` is the expected shape after the batch axis, for the message.
    """
    want = f"(batch, {', '.join(str(d) for d in tail)})"
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nesting, or an object whose __array__ raises
        raise InputError(f"expected numbers shaped {want}, got data numpy cannot turn into an array ({exc}).") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"expected real numbers shaped {want}, got dtype {arr.dtype}; convert the data "
            "to float32 first (strings, objects and complex numbers are not converted for you)."
        )
    return arr


def as_float32(x: Any, tail: tuple[int, ...]) -> np.ndarray:
    """`x` as float32 for predict and step alike: non-numeric data refused (see `numeric`), not coerced.

    A float64 beyond float32's range becomes inf without a RuntimeWarning: the caller's finiteness
    check then refuses it (or passes it, with allow_nonfinite).
    """
    if type(x) is not np.ndarray or x.dtype.kind not in "biuf":
        x = numeric(x, tail)
    try:
        with np.errstate(over="ignore"):
            return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"expected numbers shaped (batch, {', '.join(str(d) for d in tail)}), got data numpy cannot "
            f"turn into float32 ({exc})."
        ) from None
