"""ONNX int8: onnxruntime.quantization's dynamic and static QDQ, plus int8 weights behind DequantizeLinear.

All candidates are built from the bundle's float32 .onnx, calibrated (static QDQ) on the calibration
windows, measured on the held-out windows in the runtime we ship, and the best one is kept; the
manifest names it and lists every candidate with its figures or the reason it was refused.
Measured on TF 2.21 / ORT 1.32 for an LSTM(64): dynamic rewrites the LSTM to the contrib op
DynamicQuantizeLSTM (com.microsoft), which the runtime refuses (standard ops only); static QDQ does
not quantize the LSTM op, so the file keeps the float weights (104% of float32, refused by the
MAX_SIZE_RATIO rule); `weight_qdq` (int8 weights per output channel, standard DequantizeLinear,
float compute) is 34% of float32 at 0.1% of the output range.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import ArtifactEntry

from ..base import VariantJob, file_fields
from .convert import op_types

METHODS = ("dynamic", "static_qdq", "weight_qdq")
WEIGHT_SLOTS = {"LSTM": (1, 2), "GRU": (1, 2), "RNN": (1, 2), "MatMul": (1,), "Gemm": (1,)}
MIN_WEIGHT_ELEMENTS = 256  # smaller tensors (biases, tiny kernels) stay float: they cost more as int8 + scales
MAX_SIZE_RATIO = 0.6  # above this share of the float32 bytes, the weights were not quantized
CALIBRATION_BATCH = 64
INPUT_NAME = "input"


def _import_quantization():
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    return optional.require("onnxruntime.quantization", "ONNX int8 quantization")


def _reader(quantization, windows: np.ndarray):
    batches = [{INPUT_NAME: windows[i : i + CALIBRATION_BATCH]} for i in range(0, len(windows), CALIBRATION_BATCH)]

    class Reader(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    return Reader()


def _weight_qdq(source: Path, target: Path) -> None:
    """int8 weights (symmetric, per output channel) behind standard DequantizeLinear nodes; float compute.

    onnxruntime's quantizers do not cover the fused LSTM/GRU ops with standard ops (dynamic rewrites
    LSTM to the contrib op DynamicQuantizeLSTM, which the runtime refuses; static QDQ skips it), so
    this candidate quantizes the weight initializers directly. Each DequantizeLinear output keeps the
    weight's name, so every consumer (all unrolled steps too) reads the same one.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    kinds = {n.input[k]: n.op_type for n in graph.node for k in WEIGHT_SLOTS.get(n.op_type, ()) if k < len(n.input)}
    nodes = []
    for name, kind in kinds.items():
        w = numpy_helper.to_array(inits[name]) if name in inits else None
        if w is None or w.dtype != np.float32 or w.size < MIN_WEIGHT_ELEMENTS:
            continue
        axis = 1 if kind in ("LSTM", "GRU", "RNN") else (w.ndim - 1 if kind == "MatMul" else None)
        reduce = tuple(i for i in range(w.ndim) if i != axis)
        scale = (np.abs(w).max(axis=reduce) / 127.0).astype(np.float32)
        scale[scale == 0] = 1.0
        shape = [1] * w.ndim
        if axis is not None:
            shape[axis] = -1
        q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(inits[name])
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{name}_int8"),
                numpy_helper.from_array(scale, f"{name}_scale"),
                numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{name}_zero"),
            ]
        )
        attrs = {"axis": axis} if axis is not None else {}
        nodes.append(
            helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"], [name], **attrs)
        )
    if not nodes:
        raise ExportError(
            f"no weight of at least {MIN_WEIGHT_ELEMENTS} elements feeds an LSTM/GRU/RNN/MatMul/Gemm node"
        )
    for i, node in enumerate(nodes):  # initializer-only inputs: first in topological order
        graph.node.insert(i, node)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(target))


def _build(method: str, source: Path, target: Path, calibration: np.ndarray | None) -> None:
    if method == "weight_qdq":
        _weight_qdq(source, target)
        return
    q = _import_quantization()
    if method == "dynamic":
        q.quantize_dynamic(str(source), str(target), weight_type=q.QuantType.QInt8)
        return
    if calibration is None or len(calibration) == 0:
        raise ExportError("static QDQ needs calibration windows (pass representative= or --calibration).")
    q.quantize_static(
        str(source),
        str(target),
        _reader(q, np.asarray(calibration, dtype=np.float32)),
        quant_format=q.QuantFormat.QDQ,
        activation_type=q.QuantType.QInt8,
        weight_type=q.QuantType.QInt8,
    )


def _candidate(
    method: str, source: Path, target: Path, calibration, measure: Callable[[bytes, str], ArtifactEntry]
) -> dict[str, Any]:
    """Build and measure one candidate; the record says why it was refused, if it was."""
    record: dict[str, Any] = {"method": method}
    try:
        _build(method, source, target, calibration)
        content = target.read_bytes()
        record["bytes"] = len(content)
        ratio = len(content) / source.stat().st_size
        if ratio > MAX_SIZE_RATIO:
            raise ExportError(
                f"the file is {ratio:.0%} of the float32 bytes (over {MAX_SIZE_RATIO:.0%}): "
                "too little of it is quantized weights"
            )
        record["proof"] = proof = measure(content, method)
        record["max_abs_error"] = proof.max_abs_error
    except Exception as exc:  # the quantizer raises many types on graphs it cannot handle
        record["refused"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, EdgeRNNError) else str(exc)
        target.unlink(missing_ok=True)
    return record


def write_variant(job: VariantJob) -> ArtifactEntry:
    """Write the best-measuring int8 candidate of the float32 .onnx beside it as model.int8.onnx.

    Every candidate is built from the float32 file, measured on the held-out windows (`job.measure`,
    ExportError when beyond tolerance or not running), and the lowest max abs error among those
    under MAX_SIZE_RATIO of the float32 bytes is kept; the entry lists every candidate.

    Raises:
        ExportError: no candidate was produced within tolerance; the message gives each one's reason.
    """
    import onnx

    path, source = job.folder / "model.int8.onnx", job.folder / job.float_entry.file

    def measure(content: bytes, method: str) -> ArtifactEntry:
        return job.measure(content, ArtifactEntry(file=f"{path.name} ({method})", format="onnx", variant="int8"))

    records = []
    for method in METHODS:
        target = path.with_name(f"{path.stem}.{method}.tmp.onnx")
        records.append(_candidate(method, source, target, job.calibration, measure))
    good = [r for r in records if "refused" not in r]
    if not good:
        raise ExportError(
            "no ONNX int8 candidate qualified: " + " | ".join(f"{r['method']}: {r['refused']}" for r in records)
        )
    best = min(good, key=lambda r: r["max_abs_error"])
    for r in good:
        tmp = path.with_name(f"{path.stem}.{r['method']}.tmp.onnx")
        if r is best:
            os.replace(tmp, path)
        else:
            tmp.unlink(missing_ok=True)
    proto = onnx.load(str(path))
    summary = [{k: r[k] for k in ("method", "bytes", "max_abs_error", "refused") if k in r} for r in records]
    rule = (
        f"lowest max abs error on the held-out windows among candidates under {MAX_SIZE_RATIO:.0%} of the float32 bytes"
    )
    form = job.float_entry.graph_form
    return best["proof"].with_(
        file=path.name,
        graph_form=form,
        graph_form_reason=f"quantized from the float32 {form} graph",
        ops=op_types(proto),
        **file_fields(path.read_bytes()),
        opset=next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None),
        quantization={"method": best["method"], "rule": rule, "candidates": summary},
    )
