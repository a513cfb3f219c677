"""One comparison, used by export, validate and the tests; tolerances live in one table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """A bound on max abs error (model units): `absolute` plus `of_range` x the Keras output range.

    The output range is max - min of the Keras outputs on the windows an artifact is checked on. A
    quantized variant's error scales with the values it must represent, so its rule is a fraction of
    that range; export resolves the rule to an absolute bound and writes it to the manifest, which is
    what `validate` then holds the artifact to.
    """

    absolute: float = 0.0
    of_range: float = 0.0

    def bound(self, output_range: float | None = None) -> float:
        if self.of_range and output_range is None:
            raise ValueError(f"{self.describe()} needs the Keras output range to give an absolute bound")
        return self.absolute + self.of_range * float(output_range or 0.0)

    def describe(self) -> str:
        parts = [f"{self.absolute:g} abs"] if self.absolute or not self.of_range else []
        parts += [f"{self.of_range:.0%} of the Keras output range"] if self.of_range else []
        return " + ".join(parts)


# Max abs error allowed against Keras, in model units, keyed by (format, variant). A float is an
# absolute bound. float32 artifacts must match Keras to 1e-5 (the bundle promise); quantized
# variants are held to a fraction of the output range (issue 3's acceptance figures).
TOLERANCES: dict[tuple[str, str], float | Tolerance] = {
    ("tflite", "float32"): 1e-5,
    ("onnx", "float32"): 1e-5,
    ("numpy", "float32"): 1e-5,
    ("c", "float32"): 1e-5,
    ("tflite", "tflm"): 1e-5,  # float32, batch 1, for TensorFlow Lite Micro
    ("tflite", "tflm-int8"): Tolerance(of_range=0.05),  # full int8, batch 1, for TensorFlow Lite Micro
    ("tflite", "dynamic"): Tolerance(of_range=0.01),
    ("tflite", "float16"): Tolerance(of_range=0.01),
    ("tflite", "int8"): Tolerance(of_range=0.05),
    ("tflite", "int16x8"): Tolerance(of_range=0.05),  # int16 activations, int8 weights (TFLM's LSTM kernel)
    ("tflite", "int8-float-tail"): Tolerance(of_range=0.05),  # int8; each layer's last step and the head float32
    ("onnx", "int8"): Tolerance(of_range=0.05),
    ("c", "dynamic"): Tolerance(of_range=0.01),  # int8 weights, one scale per output column; float activations
}


def tolerance_rule(fmt: str, variant: str) -> Tolerance:
    """The table's rule for a (format, variant); KeyError names the missing row."""
    try:
        rule = TOLERANCES[(fmt, variant)]
    except KeyError:
        raise KeyError(f"no tolerance for format {fmt!r}, variant {variant!r}; add a row to TOLERANCES") from None
    return rule if isinstance(rule, Tolerance) else Tolerance(absolute=float(rule))


def tolerance(fmt: str, variant: str, output_range: float | None = None) -> float:
    """The absolute tolerance for a (format, variant); range-relative rows need `output_range`."""
    return tolerance_rule(fmt, variant).bound(output_range)


@dataclass(frozen=True)
class Comparison:
    """The result of comparing a candidate output with a reference. Truthy when within tolerance."""

    max_abs_error: float
    max_rel_error: float
    tolerance: float
    problem: str = ""  # set when shapes/dtypes/finiteness disagree: then the comparison fails
    mean_abs_error: float = 0.0

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
    return Comparison(float(diff.max()), float(rel.max()), tol, mean_abs_error=float(diff.mean()))


def output_range(reference: np.ndarray) -> float:
    """max - min of reference outputs: the scale a range-relative tolerance is a fraction of."""
    ref = np.asarray(reference, dtype=np.float64)
    return float(ref.max() - ref.min()) if ref.size else 0.0


def error_stats(reference: np.ndarray, candidate: np.ndarray, span: float | None = None) -> dict[str, float]:
    """p50 / p99 / max over windows of each window's max abs error, and p99 as a share of `span` (the
    Keras output range): how a release states a variant's accuracy, not only its worst window."""
    ref, got = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    per_window = np.abs(got - ref).reshape(len(ref), -1).max(axis=1) if ref.shape == got.shape and len(ref) else None
    if per_window is None:
        return {}
    p50, p99 = np.percentile(per_window, [50, 99])
    stats = {"p50_abs_error": float(p50), "p99_abs_error": float(p99), "max_abs_error": float(per_window.max())}
    if span:
        stats["p99_of_range"] = float(p99 / span)
    return stats
