"""One comparison, used by export, validate and the tests; tolerances live in one table."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Max abs error allowed against Keras, in model units, keyed by (format, variant).
# float32 artifacts must match Keras to 1e-5 (the bundle promise); quantized variants are looser.
TOLERANCES: dict[tuple[str, str], float] = {
    ("tflite", "float32"): 1e-5,
    ("onnx", "float32"): 1e-5,
    ("numpy", "float32"): 1e-5,
}


def tolerance(fmt: str, variant: str) -> float:
    """The tolerance for a (format, variant); KeyError names the missing row."""
    try:
        return TOLERANCES[(fmt, variant)]
    except KeyError:
        raise KeyError(f"no tolerance for format {fmt!r}, variant {variant!r}; add a row to TOLERANCES") from None


@dataclass(frozen=True)
class Comparison:
    """The result of comparing a candidate output with a reference. Truthy when within tolerance."""

    max_abs_error: float
    max_rel_error: float
    tolerance: float
    problem: str = ""  # set when shapes/dtypes/finiteness disagree: then the comparison fails

    def __bool__(self) -> bool:
        return not self.problem and self.max_abs_error <= self.tolerance

    def describe(self) -> str:
        if self.problem:
            return self.problem
        verdict = "within" if self else "beyond"
        return f"max abs error {self.max_abs_error:.3g} ({verdict} tolerance {self.tolerance:.3g})"


def compare(reference: np.ndarray, candidate: np.ndarray, tol: float) -> Comparison:
    """Compare `candidate` with `reference`: shape and dtype kind first, then max abs/rel error."""
    ref, cand = np.asarray(reference), np.asarray(candidate)
    if ref.shape != cand.shape:
        return Comparison(np.inf, np.inf, tol, f"shape {cand.shape} differs from the reference {ref.shape}")
    if cand.dtype.kind != "f":
        return Comparison(np.inf, np.inf, tol, f"dtype {cand.dtype} is not floating point")
    if not np.isfinite(cand).all():
        return Comparison(np.inf, np.inf, tol, "output contains NaN or inf")
    if ref.size == 0:
        return Comparison(0.0, 0.0, tol)
    diff = np.abs(ref.astype(np.float64) - cand.astype(np.float64))
    rel = diff / np.maximum(np.abs(ref.astype(np.float64)), 1e-12)
    return Comparison(float(diff.max()), float(rel.max()), tol)
