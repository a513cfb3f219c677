"""The `int8-float-tail` variant: int8 weights and activations, except the ops that read each
recurrent layer's last time step (and so the head after it), which stay float32.

Why: in a full-int8 unrolled graph every hidden state passes through TANH and LOGISTIC, whose int8
outputs have fixed scales (1/128 and 1/256), so each step adds about one LSB (0.008) of error to h.
The head multiplies the last h by its kernel: on seed-lstm (LSTM(10), head L1 norm 3.6, an output
range of only 0.22 model units) that is a max error of 6.6% of the range (TF converter) or 4.5%
(ai-edge-quantizer), against the 5% int8 rule. Keeping the last step and the head in float removes
the largest term (3.0% on the same windows) and keeps a free batch dimension and XNNPACK's int8
kernels for the other steps (docs/quantization.md, benchmarks/RESULTS-quantize.md).

ai-edge-quantizer (`edgernn[quantize]`) does it, with a recipe that matches tensor names: every
tensor is renamed here first (`t<index>`, `tail/t<index>` for what the tail ops write), so the
rule is structural, not a guess at a layer's name. Its calibration keeps a moving average of each
batch's min/max, which clips rare values; here one calibrator runs every chunk of windows with an
update that keeps the global min/max instead (what the TF converter's calibration does), then the
ranges are widened by MARGIN. One calibrator, not one per chunk: each reads the whole model again
(26 ms here), which a batch-1 graph (TFLM) paid for every one of its 1,000 windows.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.errors import ExportError

from .quantized import MAX_CALIBRATION, QUANTIZER

TAIL = "tail/"
CHUNK = 64  # windows per calibration run: bounds the memory of keeping every tensor of the graph


def tail_ops(model) -> set[int]:
    """Indices (subgraph 0) of the ops reachable from the last output of each UNPACK that splits the time axis.

    The walk stops at PACK and UNPACK: a layer's sequence output (PACK) carries every step into the next
    layer's UNPACK, whose own last output is a seed, so only each layer's last step and the head stay float.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    graph = model.subgraphs[0]
    unpack, pack = schema.BuiltinOperator.UNPACK, schema.BuiltinOperator.PACK
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    seeds = {int(op.outputs[-1]) for op in graph.operators if codes[op.opcodeIndex] == unpack and len(op.outputs) > 1}
    if not seeds:
        raise ExportError("the unrolled graph has no UNPACK of the time axis: no last step to keep in float32.")
    reached, ops = set(seeds), set()
    for index, op in enumerate(graph.operators):  # the converter writes ops in topological order
        if codes[op.opcodeIndex] in (pack, unpack):
            continue
        if any(int(t) in reached for t in op.inputs if t >= 0):
            ops.add(index)
            reached.update(int(t) for t in op.outputs)
    return ops


def mark_tail(float32: bytes, float_tail: bool = True) -> tuple[bytes, int]:
    """The float32 file with every tensor renamed (unique; `tail/` for the tail ops' outputs), and the
    number of tail ops (none asked for by the all-int8 tflm-int8 recipe, which needs no UNPACK)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(float32))
    tail = tail_ops(model) if float_tail else set()
    graph = model.subgraphs[0]
    tail_tensors = {int(t) for i in tail for t in graph.operators[i].outputs}
    for g, sub in enumerate(model.subgraphs):
        for i, tensor in enumerate(sub.tensors):
            prefix = TAIL if g == 0 and i in tail_tensors else ""
            tensor.name = f"{prefix}g{g}t{i}".encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), len(tail)


def _global(old: dict, new: dict) -> dict:
    """One tensor's calibration range after another batch: the min of the mins, the max of the maxes."""
    if not old or not new:
        return dict(new or old)
    return {**old, "min": np.minimum(old["min"], new["min"]), "max": np.maximum(old["max"], new["max"])}


# Each calibrated range is widened by this share of its width on each side, so windows of the same
# distribution beyond the calibration's extremes are not clipped. Measured on the zoo's stacked GRU
# calibrated on 160 windows: max error on 2,000 fresh windows 11.9% -> 4.5% of the output range (p99
# 4.3% -> 3.2%); on seed-lstm (1,024 windows) the held-out max moves 2.95% -> 3.5%.
MARGIN = 0.1


RECIPE = (
    "ai_edge_quantizer static int8 (int8 weights one scale per tensor, int8 activations, calibrated min/max "
    f"widened by {MARGIN:.0%} each side); "
    "float32: the ops that read each recurrent layer's last step, and the head"
)


def _widened(ranges: dict, margin: float) -> dict:
    """The calibration ranges with `margin` x (max - min) added below the min and above the max."""
    out = {}
    for name, qsv in ranges.items():
        if qsv and "min" in qsv:
            lo, hi = np.asarray(qsv["min"]), np.asarray(qsv["max"])
            pad = margin * (hi - lo)
            qsv = {**qsv, "min": lo - pad, "max": hi + pad}
        out[name] = qsv
    return out


def quantize_tail(float32: bytes, calibration: np.ndarray, float_tail: bool = True) -> tuple[bytes, int]:
    """ai-edge-quantizer on a float32 unrolled .tflite: int8 but the tail (every op when not `float_tail`,
    the tflm-int8 variant's recipe); (bytes, count of float32 ops).

    Raises:
        ExportError: the graph has no time-axis UNPACK, or the quantizer failed.
    """
    if not optional.available(QUANTIZER):
        raise ExportError(
            f"the int8-float-tail recipe needs {QUANTIZER.replace('_', '-')}: pip install 'edgernn[quantize]'."
        )
    from ai_edge_quantizer import calibrator, qtyping, quantizer, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    marked, count = mark_tail(float32, float_tail)
    ops = qtyping.TFLOperationName.ALL_SUPPORTED
    windows = np.asarray(calibration, dtype=np.float32)[:MAX_CALIBRATION]
    (key, name), batch = _signature(marked)
    chunk = CHUNK if batch is None else batch
    try:
        q = quantizer.Quantizer(marked)
        q.add_static_config(".*", ops, 8, 8, qtyping.QuantGranularity.TENSORWISE)
        if float_tail:
            q.update_quantization_recipe(f"^{TAIL}", ops, algorithm_key=AlgorithmName.NO_QUANTIZE)
        recipe = recipe_manager.RecipeManager()
        recipe.load_quantization_recipe(q.get_quantization_recipe())
        batches = [{name: windows[start : start + chunk]} for start in range(0, len(windows), chunk)]
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):  # progress bars
            calib = calibrator.Calibrator(marked, qsv_update_func=_global)  # and its preserve-all-tensors warning
            calib.calibrate({key: batches}, recipe)
            ranges = _widened(calib.get_model_qsvs(), MARGIN)
            result = q.quantize(ranges, enable_progress_bar=False, enable_progress_report=False)
        return bytes(result.quantized_model), count if float_tail else 0
    except Exception as exc:  # the quantizer raises plain exceptions on ops it does not cover
        raise ExportError(f"{QUANTIZER} (static int8, float tail) failed: {type(exc).__name__}: {exc}") from exc


def _signature(content: bytes) -> tuple[tuple[str, str], int | None]:
    """((signature key, its one input's name), the input's static batch or None); ExportError unless the
    file has one signature with one input."""
    from edgernn.runtime.backends import litert

    interp = litert.interpreter_module().Interpreter(model_content=content)
    sigs = interp.get_signature_list()
    found = {k: v["inputs"][0] for k, v in sigs.items() if len(v["inputs"]) == 1}
    if len(sigs) != 1 or len(found) != 1:
        raise ExportError(
            f"the float32 file has signatures {sigs}; the int8-float-tail recipe needs one with one input."
        )
    detail = interp.get_input_details()[0]
    batch = None if int(detail["shape_signature"][0]) < 0 else int(detail["shape"][0])
    return next(iter(found.items())), batch


def float_input(content: bytes) -> bytes:
    """The file with a float32 input: a QUANTIZE op at the start does the int8 input's scale and zero
    point inside the graph (XNNPACK), where a runtime in Python would do it per call with numpy (about
    3 us on seed-lstm, as much as the whole float32 call). A float input is returned unchanged."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    (old,) = [int(i) for i in graph.inputs]
    if graph.tensors[old].type == schema.TensorType.FLOAT32:
        return content
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    if schema.BuiltinOperator.QUANTIZE not in codes:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
        code.version = 1
        model.operatorCodes.append(code)
        codes.append(schema.BuiltinOperator.QUANTIZE)
    src = graph.tensors[old]
    tensor = schema.TensorT()
    tensor.shape, tensor.shapeSignature = src.shape, src.shapeSignature
    tensor.type, tensor.buffer, tensor.name = schema.TensorType.FLOAT32, 0, b"float_input"
    graph.tensors.append(tensor)
    new = len(graph.tensors) - 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = codes.index(schema.BuiltinOperator.QUANTIZE), [new], [old]
    graph.operators.insert(0, op)
    graph.inputs = [new]
    for sig in model.signatureDefs or []:
        for item in sig.inputs:
            if item.tensorIndex == old:
                item.tensorIndex = new
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
