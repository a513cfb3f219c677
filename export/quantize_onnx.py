"""ONNX int8 through onnxruntime.quantization: dynamic, and static QDQ calibrated on the same windows.

Both candidates are built from the bundle's float32 .onnx, measured on the held-out windows in the
runtime we ship, and the better one is kept; the manifest says which and why, and lists the other.
A candidate that leaves most of the weights in float is not an int8 variant and is refused: ORT's
static QDQ quantizer does not quantize the fused LSTM op, so for an LSTM the static file keeps the
float recurrent weights (measured: 104% of the float32 file), while dynamic quantization rewrites it
to DynamicQuantizeLSTM with int8 weights (32%).
"""
from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgernn.runtime.errors import EdgeRNNError, ExportError

from .artifact import Artifact

ONNX_VARIANTS = ("int8",)
METHODS = ("dynamic", "static_qdq")
MAX_SIZE_RATIO = 0.6  # above this share of the float32 bytes, the weights were not quantized
CALIBRATION_BATCH = 64
INPUT_NAME = "input"


def _import_quantization():
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        from onnxruntime import quantization
    except ImportError:
        from edgernn.runtime.errors import missing_extra

        raise missing_extra("onnxruntime", "onnx", "ONNX int8 quantization") from None
    return quantization


def _reader(quantization, windows: np.ndarray):
    batches = [{INPUT_NAME: windows[i : i + CALIBRATION_BATCH]} for i in range(0, len(windows), CALIBRATION_BATCH)]

    class Reader(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    return Reader()


def _build(method: str, source: Path, target: Path, calibration: np.ndarray | None) -> None:
    q = _import_quantization()
    if method == "dynamic":
        q.quantize_dynamic(str(source), str(target), weight_type=q.QuantType.QInt8)
        return
    if calibration is None or len(calibration) == 0:
        raise ExportError("static QDQ needs calibration windows (pass representative= or --calibration).")
    q.quantize_static(str(source), str(target), _reader(q, np.asarray(calibration, dtype=np.float32)),
                      quant_format=q.QuantFormat.QDQ, activation_type=q.QuantType.QInt8,
                      weight_type=q.QuantType.QInt8)


def _candidate(method: str, source: Path, target: Path, calibration, measure) -> dict[str, Any]:
    """Build and measure one candidate; the record says why it was refused, if it was."""
    record: dict[str, Any] = {"method": method}
    try:
        _build(method, source, target, calibration)
        content = target.read_bytes()
        record["bytes"] = len(content)
        ratio = len(content) / source.stat().st_size
        if ratio > MAX_SIZE_RATIO:
            raise ExportError(
                f"the file is {ratio:.0%} of the float32 bytes (over {MAX_SIZE_RATIO:.0%}): the quantizer left "
                "most weights in float"
            )
        record.update(measure(content, method))
    except Exception as exc:  # the quantizer raises many types on graphs it cannot handle
        record["refused"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, EdgeRNNError) else str(exc)
        target.unlink(missing_ok=True)
    return record


def quantize_onnx(source: Path, path: Path, calibration: np.ndarray | None,
                  measure: Callable[[bytes, str], dict[str, Any]]) -> tuple[Artifact, dict[str, Any]]:
    """Write the better-measuring int8 candidate of the float32 .onnx `source` to `path`.

    Args:
        source: the float32 .onnx file.
        path: where the chosen int8 file goes.
        calibration: windows in model units for static QDQ (None: dynamic only).
        measure: measure(content, method) -> the manifest's error fields; raises ExportError when the
            candidate is beyond tolerance or does not run.

    Returns:
        (Artifact, its measured fields).

    Raises:
        ExportError: no candidate was produced within tolerance; the message gives each one's reason.
    """
    records = []
    for method in METHODS:
        target = path.with_name(f"{path.stem}.{method}.tmp.onnx")
        records.append(_candidate(method, source, target, calibration, measure))
    good = [r for r in records if "refused" not in r]
    if not good:
        raise ExportError("no ONNX int8 candidate qualified: " + " | ".join(f"{r['method']}: {r['refused']}" for r in records))
    best = min(good, key=lambda r: r["max_abs_error"])
    for r in good:
        tmp = path.with_name(f"{path.stem}.{r['method']}.tmp.onnx")
        if r is best:
            os.replace(tmp, path)
        else:
            tmp.unlink(missing_ok=True)
    import onnx

    proto = onnx.load(str(path))
    summary = [{k: r[k] for k in ("method", "bytes", "max_abs_error", "refused") if k in r} for r in records]
    extra = {"quantization": {"method": best["method"], "rule": "lowest max abs error on the held-out windows among "
                              f"candidates under {MAX_SIZE_RATIO:.0%} of the float32 bytes", "candidates": summary}}
    art = Artifact(file=path.name, format="onnx", variant="int8", graph_form=f"int8 {best['method']}",
                   graph_form_reason=f"{best['method']} measured best; see quantization.candidates",
                   ops=dict(collections.Counter(n.op_type for n in proto.graph.node)),
                   opset=next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None),
                   extra=extra)
    return art, {k: v for k, v in best.items() if k not in ("method", "bytes")}
