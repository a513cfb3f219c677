"""Quantized variants of a bundle: calibrate on some windows, measure on others, keep what passes.

Each variant is measured against Keras on held-out windows that the calibration never saw, in the
runtime we ship (export/verify.py, the one comparison path), and held to its row of
`edgernn.runtime.compare.TOLERANCES`; a range-relative rule is resolved against the Keras output
range on those windows and written to the manifest as an absolute bound. A variant that cannot be
produced or measured is left out and reported; the other variants are still written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgernn.runtime.compare import output_range, tolerance, tolerance_rule
from edgernn.runtime.errors import EdgeRNNError, ExportError

from .model_info import ModelInfo
from .quantize_onnx import ONNX_VARIANTS, quantize_onnx
from .quantize_tflite import TFLITE_VARIANTS, quantize_tflite, variant_forms
from .verify import Case, keras_outputs, verify

VARIANTS = ("dynamic", "float16", "int8")
OF_FORMAT = {"tflite": TFLITE_VARIANTS, "onnx": ONNX_VARIANTS}
BACKENDS = {"tflite": ("litert",), "onnx": ("onnxruntime",)}
HOLDOUT_FRACTION = 0.2
HOLDOUT_RANDOM = 32  # held-out windows when there are no calibration windows (uniform in [-1, 1))
GOLDEN_HOLDOUT = 64  # held-out windows kept in golden.npz for `edgernn validate`


@dataclass(frozen=True)
class Windows:
    """Calibration windows and the held-out case (model units) the variants are measured on."""

    calibration: np.ndarray | None
    holdout: Case
    source: str
    output_range: float  # max - min of Keras outputs on all the windows: the scale tolerances are a share of


@dataclass
class VariantReport:
    """What write_variants produced: manifest entries, failures and the windows used."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    windows: Windows | None = None


def parse_variants(text_or_list: str | Sequence[str]) -> tuple[str, ...]:
    """'dynamic,int8' or a list -> a checked tuple; ExportError names unknown variants."""
    items = text_or_list.split(",") if isinstance(text_or_list, str) else list(text_or_list)
    names = tuple(dict.fromkeys(v.strip() for v in items if v.strip()))
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise ExportError(f"unknown quantized variant(s) {unknown}; expected a comma list of {VARIANTS}.")
    return names


def split_windows(model, info: ModelInfo, windows: np.ndarray | None, source: str, seed: int) -> Windows:
    """Hold out HOLDOUT_FRACTION of `windows` (model units, at least one) for measuring; calibrate on the rest."""
    rng = np.random.default_rng(seed)
    if windows is None or len(windows) == 0:
        x = rng.uniform(-1, 1, (HOLDOUT_RANDOM, info.timesteps, info.features)).astype(np.float32)
        y = keras_outputs(model, x)
        return Windows(None, Case("random held-out windows", x, y), "none (random windows)", output_range(y))
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1:] != (info.timesteps, info.features) or len(windows) < 2:
        raise ExportError(
            f"calibration windows must be shaped (n >= 2, {info.timesteps}, {info.features}); got {windows.shape}."
        )
    order = rng.permutation(len(windows))
    cut = max(1, int(round(len(windows) * HOLDOUT_FRACTION)))
    held, calib = windows[order[:cut]], windows[order[cut:]]
    # The range is taken over all windows: a few held-out outputs can span little (one spans nothing).
    span = output_range(keras_outputs(model, windows))
    return Windows(calib, Case("held-out windows", held, keras_outputs(model, held)), source, span)


def _measure(content: bytes, entry: dict[str, Any], spec, windows: Windows, max_error: float | None) -> dict[str, Any]:
    """verify() on the held-out case with the (format, variant) rule resolved; then --max-error."""
    holdout, span = windows.holdout, windows.output_range
    rule = tolerance_rule(entry["format"], entry["variant"])
    fields = verify(content, entry, spec, [holdout], BACKENDS[entry["format"]], tol=tolerance(entry["format"], entry["variant"], span))
    limit = max_error_limit(max_error, span)
    if limit is not None and fields["max_abs_error"] > limit:
        raise ExportError(
            f"measured max abs error {fields['max_abs_error']:.4g} (model units, {fields['max_abs_error'] / span:.2%} "
            f"of the output range, on {len(holdout.inputs)} held-out windows) is beyond --max-error {max_error} "
            f"(= {limit:.4g}); not written."
        )
    fields.update(tolerance_rule=rule.describe(), output_range=span, checked_on="holdout",
                  range_relative_error=fields["max_abs_error"] / span if span else None)
    return fields


def max_error_limit(max_error: float | str | None, span: float) -> float | None:
    """--max-error as an absolute bound: a number (model units) or 'N%' of the output range `span`."""
    if max_error is None:
        return None
    text = str(max_error).strip()
    try:
        return float(text[:-1]) / 100 * span if text.endswith("%") else float(text)
    except ValueError:
        raise ExportError(f"--max-error {max_error!r}: expected a number (model units) or a percentage like '2%'.") from None


def _tflite_variant(model, folder: Path, info, spec, variant, windows: Windows, max_error) -> dict[str, Any]:
    path = folder / f"model.{variant}.tflite"
    failures = []
    for form, reason in variant_forms(info, variant):
        try:
            art = quantize_tflite(model, path, info, variant, form=form, reason=reason, calibration=windows.calibration)
            content = path.read_bytes()
            entry = {**art.entry(), **_file(path)}
            entry.update(_measure(content, entry, spec, windows, max_error))
            return {**entry, "forms_refused": failures} if failures else entry
        except EdgeRNNError as exc:
            failures.append(f"{form}: {exc}")
            path.unlink(missing_ok=True)
    raise ExportError(" | ".join(failures))


def _onnx_variant(folder: Path, float_entry: dict[str, Any], spec, windows: Windows, max_error) -> dict[str, Any]:
    path = folder / "model.int8.onnx"

    def measure(content: bytes, method: str) -> dict[str, Any]:
        entry = {"file": f"{path.name} ({method})", "format": "onnx", "variant": "int8"}
        return _measure(content, entry, spec, windows, max_error)

    art, fields = quantize_onnx(folder / float_entry["file"], path, windows.calibration, measure)
    art.graph_form = float_entry.get("graph_form", "")
    art.graph_form_reason = f"quantized from the float32 {art.graph_form} graph"
    return {**art.entry(), **_file(path), **fields}


def _file(path: Path) -> dict[str, Any]:
    from .artifact import file_entry

    return {k: v for k, v in file_entry(path).items() if k != "file"}


def write_variants(model, folder: Path, info: ModelInfo, spec, variants: Sequence[str],
                   float_entries: list[dict[str, Any]], windows: Windows, max_error: float | None = None) -> VariantReport:
    """Write each requested variant for each exported format that offers it; never raises for one variant.

    Returns:
        A VariantReport: manifest entries of the written variants (with size_ratio to the float32
        file of the same format) and one failure record (format, variant, reason) per variant left out.
    """
    report = VariantReport(windows=windows)
    floats = {e["format"]: e for e in float_entries if e.get("role", "model") == "model" and e["variant"] == "float32"}
    for variant in variants:
        offered = [fmt for fmt in floats if variant in OF_FORMAT.get(fmt, ())]
        if not offered:
            report.failures.append({"format": "-", "variant": variant, "reason": (
                f"no exported format offers it (formats {sorted(floats)}; {variant} is offered by "
                f"{[f for f, v in OF_FORMAT.items() if variant in v]})")})
        for fmt in offered:
            try:
                if fmt == "tflite":
                    entry = _tflite_variant(model, folder, info, spec, variant, windows, max_error)
                else:
                    entry = _onnx_variant(folder, floats[fmt], spec, windows, max_error)
            except EdgeRNNError as exc:
                report.failures.append({"format": fmt, "variant": variant, "reason": str(exc)})
                continue
            entry["size_ratio"] = entry["bytes"] / floats[fmt]["bytes"]
            report.entries.append(entry)
    return report


def describe_failures(failures: list[dict[str, str]]) -> str:
    """One line per variant left out: which, and why."""
    return "\n".join(f"variant {f['variant']} ({f['format']}) not written: {f['reason']}" for f in failures)
