"""Guards between edgernn and a runtime: model I/O shapes against the manifest, and run errors.

A runtime raises its own exception types (onnxruntime's Fail/InvalidArgument, LiteRT's
RuntimeError/ValueError, even UnicodeDecodeError on a mangled message); none of them may escape
`load` or `predict`, so an application that catches `EdgeRNNError` keeps serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import EdgeRNNError, InputError, ManifestError, ModelRunError
from .manifest import Spec


def run_error(exc: BaseException, file: str) -> EdgeRNNError:
    """The typed error to raise for an exception that came out of a backend's run."""
    if isinstance(exc, EdgeRNNError):
        return exc
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return ModelRunError(
        f"{file}: the runtime failed while running the model ({type(exc).__name__}: {text}). The file may be "
        "damaged: run 'edgernn validate' on the bundle, or restore it."
    )


def _dims(shape: Sequence[Any]) -> list[int | None]:
    """Dimensions as ints, None where the model leaves one free (-1, None, a symbolic name)."""
    out: list[int | None] = []
    for dim in shape:
        try:
            value = int(dim)
        except (TypeError, ValueError):
            value = -1
        out.append(value if value >= 0 else None)
    return out


def check_io(file: str, spec: Spec, input_shape: Sequence[Any], output_shape: Sequence[Any]) -> None:
    """Check the model's own input and output shapes against the manifest's spec.

    Free dimensions in the model (the batch, a symbolic name) match anything; fixed ones must agree.

    Raises:
        ManifestError: the rank or a fixed dimension differs from the manifest.
    """
    want_in = [None, *spec.input_tail]
    want_out = [None, spec.out_steps, spec.outputs] if spec.sequence_output else [None, spec.outputs]  # heads: packed
    for what, got, want in (("input", _dims(input_shape), want_in), ("output", _dims(output_shape), want_out)):
        same_rank = len(got) == len(want)
        if not same_rank or any(g is not None and w is not None and g != w for g, w in zip(got[1:], want[1:])):
            raise ManifestError(
                f"{file}: the model's {what} shape is {list(input_shape if what == 'input' else output_shape)}, "
                f"but the manifest says (batch, {', '.join(str(w) for w in want[1:])}); the manifest and the model "
                "file disagree. Re-export the bundle."
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
