"""Quantized variants of a bundle: calibrate on some windows, measure on others, keep what passes.

Each variant is measured against Keras on held-out windows that the calibration never saw, in the
runtime we ship (export/verify.py, the one comparison path), and held to its row of
`edgernn.runtime.compare.TOLERANCES`; a range-relative rule is resolved against the Keras output
range on those windows and written to the manifest as an absolute bound. A variant that cannot be
produced or measured is left out and reported; the other variants are still written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgernn.runtime.compare import error_stats, output_range, tolerance_rule
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import MODEL_ROLE, ArtifactEntry, QuantizationBlock, Spec

from .formats import FLOAT32, FORMATS, QUANTIZED, Target, VariantJob, get_format
from .model_info import ModelInfo
from .verify import Case, keras_outputs, verify, window_opener

# tflm, tflm-int8: batch-1 float32 and int8 for TensorFlow Lite Micro (formats/tflite/micro.py, micro_int8.py)
VARIANTS = (*QUANTIZED, "tflm", "tflm-int8")
HOLDOUT_FRACTION = 0.2
HOLDOUT_MIN = 256  # held-out windows a release's error figures are stated on (at most half the windows given)
HOLDOUT_RANDOM = 256  # held-out windows when there are no calibration windows (uniform in [-1, 1))
GOLDEN_HOLDOUT = 256  # held-out windows kept in golden.npz for `edgernn validate`


@dataclass(frozen=True)
class Windows:
    """Calibration windows and the held-out case (model units) the variants are measured on."""

    calibration: np.ndarray | None  # model units (write_variants maps them for a folded model)
    holdout: Case
    source: str
    output_range: float  # max - min of Keras outputs on all the windows: the scale tolerances are a share of


@dataclass
class VariantReport:
    """What write_variants produced: manifest entries, failures and the windows used."""

    entries: list[ArtifactEntry] = field(default_factory=list)
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
    cut = max(1, int(round(len(windows) * HOLDOUT_FRACTION)), min(HOLDOUT_MIN, len(windows) // 2))
    held, calib = windows[order[:cut]], windows[order[cut:]]
    # The range is taken over all windows: a few held-out outputs can span little (one spans nothing).
    span = output_range(keras_outputs(model, windows))
    return Windows(calib, Case("held-out windows", held, keras_outputs(model, held)), source, span)


def measure(
    content: bytes, entry: ArtifactEntry, spec: Spec, windows: Windows, max_error: float | str | None
) -> ArtifactEntry:
    """verify() on the held-out case with the (format, variant) rule resolved; then --max-error."""
    holdout, span = windows.holdout, windows.output_range
    rule = tolerance_rule(entry.format, entry.variant)
    proof = verify(content, entry, spec, [holdout], tol=rule.bound(span))
    limit = max_error_limit(max_error, span)
    err = proof.max_abs_error
    if limit is not None and err > limit:
        raise ExportError(
            f"measured max abs error {err:.4g} (model units, {err / span:.2%} of the output range, on "
            f"{len(holdout.inputs)} held-out windows) is beyond --max-error {max_error} (= {limit:.4g}); not written."
        )
    run = window_opener(spec, entry)(proof.verified_with[0], content)  # the first: the shipped runtime
    stats = error_stats(holdout.outputs, run(holdout.inputs), span)
    stats.pop("max_abs_error", None)  # verify's, over every backend
    return proof.with_(
        tolerance_rule=rule.describe(),
        output_range=span,
        checked_on="holdout",
        range_relative_error=err / span if span else None,
        holdout_windows=int(len(holdout.inputs)),
        **stats,
    )


def max_error_limit(max_error: float | str | None, span: float) -> float | None:
    """--max-error as an absolute bound: a number (model units) or 'N%' of the output range `span`."""
    if max_error is None:
        return None
    text = str(max_error).strip()
    try:
        return float(text[:-1]) / 100 * span if text.endswith("%") else float(text)
    except ValueError as exc:
        raise ExportError(
            f"--max-error {max_error!r}: expected a number (model units) or a percentage like '2%'."
        ) from exc


def write_variants(
    model,
    folder: Path,
    info: ModelInfo,
    spec: Spec,
    variants: Sequence[str],
    float_entries: Sequence[ArtifactEntry],
    windows: Windows,
    max_error: float | str | None = None,
    target: Target | None = None,
    unfolded=None,
) -> VariantReport:
    """Write each requested variant for each exported format that offers it; never raises for one variant.

    Returns:
        A VariantReport: entries of the written variants (with size_ratio to the float32 file of the same
        format) and one failure record (format, variant, reason) per variant left out.
    """
    report = VariantReport(windows=windows)
    calibration = windows.calibration  # a folded model calibrates on the raw units it is fed
    if spec.folded and calibration is not None:
        calibration = spec.x.to_raw(calibration).astype(np.float32)
    floats = {e.format: e for e in float_entries if e.role == MODEL_ROLE and e.variant == FLOAT32}
    for variant in variants:
        offered = [fmt for fmt in floats if variant in get_format(fmt).variants]
        if not offered:
            report.failures.append(
                {
                    "format": "-",
                    "variant": variant,
                    "reason": (
                        f"no exported format offers it (formats {sorted(floats)}; {variant} is offered by "
                        f"{[f.name for f in FORMATS.values() if variant in f.variants]})"
                    ),
                }
            )
        for fmt in offered:
            job = VariantJob(
                unfolded if unfolded is not None and get_format(fmt).unfolded else model,
                folder,
                info,
                variant,
                floats[fmt],
                calibration,
                lambda content, entry: measure(content, entry, spec, windows, max_error),
                target,
            )
            try:
                entry = get_format(fmt).variants[variant](job)
            except EdgeRNNError as exc:
                report.failures.append({"format": fmt, "variant": variant, "reason": str(exc)})
                continue
            report.entries.append(entry.with_(size_ratio=entry.bytes / floats[fmt].bytes))
    return report


def quantization_block(variants: Sequence[str], windows: Windows, failures: list[dict[str, str]]) -> QuantizationBlock:
    """The manifest's record of what was asked, calibrated on, measured on, and left out."""
    calib = 0 if windows.calibration is None else int(len(windows.calibration))
    held = int(len(windows.holdout.inputs))
    note = "variants are measured on these; calibration never saw them"
    if held < HOLDOUT_MIN:
        note += f"; fewer than {HOLDOUT_MIN}: pass more windows (--calibration) for figures a release can state"
    return QuantizationBlock(
        requested=tuple(variants),
        calibration={"source": windows.source, "windows": calib},
        holdout={
            "windows": held,
            "kept_in_golden": min(held, GOLDEN_HOLDOUT),
            "note": note,
        },
        failed=tuple(failures),
    )
