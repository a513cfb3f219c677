"""Write a bundle: artifacts proven against Keras, golden vectors, model.keras, manifest.json.

Everything is written into a temp folder beside the target and swapped in at the end, so a failed
or killed export leaves any earlier bundle at that path untouched.
"""
from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import FORMAT_NAME, MANIFEST_FILE, SCHEMA_VERSION, check_manifest, spec_from_manifest

from .artifact import file_entry
from .atomic import staging_dir
from .formats import get_format
from .keras_io import load_keras
from .model_info import ModelInfo, inspect_model
from .streaming import check_streamable, write_step_models
from .variants import GOLDEN_HOLDOUT, describe_failures, parse_variants, split_windows, write_variants
from .verify import Case, keras_cases, verify

GOLDEN_FILE = "golden.npz"
KERAS_FILE = "model.keras"
GOLDEN_RANDOM = 8


def _versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version()}
    for dist in ("edgernn", "tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _channels(value: float | Sequence[float], size: int, what: str) -> list[float]:
    values = [float(value)] if np.isscalar(value) else [float(v) for v in value]
    if len(values) not in (1, size):
        raise ExportError(f"{what} has {len(values)} values; expected 1 or {size}.")
    if not all(np.isfinite(values)) or (what.endswith("scale") and any(v == 0 for v in values)):
        raise ExportError(f"{what} is {values}; expected finite numbers (and a non-zero scale).")
    return values


def preprocessing(info: ModelInfo, scale, offset, output_scale=None, output_offset=None) -> dict[str, Any]:
    """The manifest's preprocessing block; outputs default to the input's scalar scale/offset."""
    if output_scale is None:
        output_scale = scale if np.isscalar(scale) else 1.0
    if output_offset is None:
        output_offset = offset if np.isscalar(offset) else 0.0
    return {
        "convention": "x_model = (x_raw - offset) * scale; y_raw = y_model / scale + offset",
        "input": {"offset": _channels(offset, info.features, "offset"), "scale": _channels(scale, info.features, "scale")},
        "output": {
            "offset": _channels(output_offset, info.outputs, "output offset"),
            "scale": _channels(output_scale, info.outputs, "output scale"),
        },
    }


def golden_inputs(info: ModelInfo, representative: np.ndarray | None, seed: int) -> np.ndarray:
    """Up to 8 representative windows (model units) and 8 random ones."""
    rng = np.random.default_rng(seed)
    parts = []
    if representative is not None:
        parts.append(np.asarray(representative, dtype=np.float32)[:8])
    parts.append(rng.uniform(-1, 1, (GOLDEN_RANDOM, info.timesteps, info.features)).astype(np.float32))
    return np.concatenate(parts).astype(np.float32)


def _file_entry(folder: Path, name: str) -> dict[str, Any]:
    return file_entry(folder / name)


def _write_artifact(model, folder: Path, fmt_name: str, info: ModelInfo, spec, cases: list[Case]) -> dict[str, Any]:
    """Try the format's graph forms in order; keep the first that passes parity."""
    fmt = get_format(fmt_name)
    path = folder / f"model{fmt.suffix}"
    failures = []
    for form, reason in fmt.forms(info):
        try:
            art = fmt.write(model, path, info, form=form, reason=reason)
            entry = {**art.entry(), **_file_entry(folder, path.name)}
            entry.update(verify(path.read_bytes(), entry, spec, cases, fmt.backends))
            return entry
        except ExportError as exc:
            failures.append(f"{form}: {exc}")
            path.unlink(missing_ok=True)
    raise ExportError(f"{path.name}: no graph form passed. " + " | ".join(failures))


def export_bundle(
    model,
    out: str | Path,
    *,
    formats: Sequence[str] = ("tflite", "onnx", "numpy"),
    scale: float | Sequence[float] = 1.0,
    offset: float | Sequence[float] = 0.0,
    output_scale: float | Sequence[float] | None = None,
    output_offset: float | Sequence[float] | None = None,
    representative: np.ndarray | None = None,
    name: str | None = None,
    extra: dict[str, Any] | None = None,
    seed: int = 0,
    streaming: bool = False,
    quantize: str | Sequence[str] = (),
    calibration: np.ndarray | None = None,
    max_error: float | str | None = None,
) -> Path:
    """Export a Keras model (or a .keras path) to a bundle directory, atomically.

    Args:
        model: a Keras model, or the path of a .keras file (loaded with safe_mode=True).
        out: the bundle directory to create or replace.
        formats: artifact formats, from `edgernn.export.formats.FORMAT_NAMES`.
        scale, offset: input preprocessing, x_model = (x_raw - offset) * scale (scalar or per feature).
        output_scale, output_offset: output mapping (default: the input's, when scalar).
        representative: windows in model units (e.g. the training windows) used in the golden vectors.
        name: the bundle's name (default: the folder name).
        extra: more top-level manifest keys (e.g. training metrics).
        streaming: also write step models (state as explicit input/output) per format; see export/streaming.py.
        quantize: quantized variants to add ('dynamic', 'float16', 'int8', or a comma list); see
            export/variants.py. A variant that fails is left out and listed in manifest.quantization.failed.
        calibration: windows (n, timesteps, features) in RAW units for calibration; default `representative`.
        max_error: refuse a variant whose max abs error (model units) is beyond this; 'N%' means N% of
            the Keras output range.

    Returns:
        The bundle path.

    Raises:
        ExportError (or its subclass for unsupported layers): nothing is written then.
    """
    if isinstance(model, (str, Path)):
        model = load_keras(model)
    info = inspect_model(model)
    if streaming:
        check_streamable(model)  # before any conversion: say at once why it cannot stream
    out = Path(out)
    manifest: dict[str, Any] = {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "name": name or out.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "cell": info.cell,
            "cells": list(info.cells),
            "bidirectional": info.bidirectional,
            "trainable_params": info.trainable_params,
            "layers": list(info.layers),
        },
        "input": {"name": "input", "timesteps": info.timesteps, "features": info.features, "dtype": "float32"},
        "output": {"name": "output", "outputs": info.outputs, "sequence": info.sequence_output, "dtype": "float32"},
        "preprocessing": preprocessing(info, scale, offset, output_scale, output_offset),
        "artifacts": [],
        "producer": _versions(),
    }
    spec = spec_from_manifest(manifest)
    inputs = golden_inputs(info, representative, seed)
    cases = keras_cases(model, inputs, seed=seed + 1)
    variants = parse_variants(quantize)
    if variants:
        source = "calibration (raw units)" if calibration is not None else "representative"
        pool = spec.x.to_model(np.asarray(calibration, dtype=np.float32)) if calibration is not None else representative
        windows = split_windows(model, info, pool, source if pool is not None else "none", seed + 2)
    with staging_dir(out) as tmp:
        for fmt in formats:
            manifest["artifacts"].append(_write_artifact(model, tmp, fmt, info, spec, cases))
        if streaming:
            manifest["streaming"], steps = write_step_models(model, tmp, info, spec, formats, seed)
            manifest["artifacts"] += steps
        golden = {"inputs": cases[0].inputs, "outputs": cases[0].outputs}
        if variants:
            report = write_variants(model, tmp, info, spec, variants, list(manifest["artifacts"]), windows, max_error)
            manifest["artifacts"].extend(report.entries)
            manifest["quantization"] = _quantization_block(variants, windows, report.failures)
            golden.update(holdout_inputs=windows.holdout.inputs[:GOLDEN_HOLDOUT],
                          holdout_outputs=windows.holdout.outputs[:GOLDEN_HOLDOUT])
        np.savez(tmp / GOLDEN_FILE, **golden)
        manifest["golden"] = {**_file_entry(tmp, GOLDEN_FILE), "count": int(len(inputs)), "units": "model"}
        model.save(tmp / KERAS_FILE)
        manifest["source"] = {**_file_entry(tmp, KERAS_FILE), "format": "keras"}
        manifest.update(extra or {})
        check_manifest(manifest)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return out


def _quantization_block(variants, windows, failures) -> dict[str, Any]:
    calib = 0 if windows.calibration is None else int(len(windows.calibration))
    return {
        "requested": list(variants),
        "calibration": {"source": windows.source, "windows": calib},
        "holdout": {"windows": int(len(windows.holdout.inputs)), "kept_in_golden": min(len(windows.holdout.inputs), GOLDEN_HOLDOUT),
                    "note": "variants are measured on these; calibration never saw them"},
        "failed": failures,
        "message": describe_failures(failures),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")


__all__ = ["export_bundle", "GOLDEN_FILE", "KERAS_FILE"]
