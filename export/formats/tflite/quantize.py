"""Quantized TFLite variants: `dynamic` (int8 weights), `float16` (fp16 weights), `int8` (full integer),
`int16x8` (int16 activations, int8 weights: what TensorFlow Lite Micro's LSTM kernel runs best),
`int8-float-tail` (int8 but each recurrent layer's last step and the head in float32: selective.py).

Forms, measured on TF 2.21 / LiteRT 2.3 with an LSTM(64) on (24, 3), one thread (docs/quantization.md,
benchmarks/RESULTS-quantize.md):
- Every variant prefers the `unrolled` form: a free batch dimension, and in LiteRT's XNNPACK the int8
  fully-connected kernels (QS8) apply, so int8 is a speed-up and not only a size cut (batch 1: 17 us
  against float32's 28 us; batch 1024: 225,000 against 151,000 windows/s). The batch-1 forms ran
  row by row (int8 fused_batch1: 390 us at batch 1, 5,700 windows/s at batch 1024).
- Quantized files carry no tensor names (strip_names): in an unrolled int8 graph they were a third
  of the bytes, and a window model is run by tensor index.
- `fused_batch1` (TFLite's fused LSTM op, fused_lstm.py) and `while_batch1` remain fallbacks for
  sequences too long to unroll: the smallest files, batch fixed at 1. The fused op clips the cell
  state at 10 (Keras never does), so it is never the first choice.
- `int8` and `int16x8` never use the converter's WHILE form: calibrating it segfaults the TF 2.21
  converter. int8 and dynamic of an LSTM or GRU -> Dense model take the `while` form first, a free-batch
  WHILE loop built by hand (int8_loop.py): the smallest files, and at batch 1 and 1024 faster than
  float32 (int8 also faster than its unrolled form). Other models (SimpleRNN, stacked, bidirectional)
  keep the unrolled form; the manifest says why in `forms_refused`. dynamic of one such layer (or a
  SimpleRNN) with a smaller step takes `unrolled_lean` first (lean_unrolled.py): the step unrolled by hand
  with the fewest records, where the converter's records outweigh the weights (seed-lstm: 34% of float32,
  against 66%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import ArtifactEntry

from ...model_info import ModelInfo
from ..base import (
    FUSED_BATCH1,
    INT8_FLOAT_TAIL,
    QUANTIZED,
    UNROLL_MAX_TIMESTEPS,
    UNROLLED,
    UNROLLED_LEAN,
    WHILE,
    WHILE_BATCH1,
    GraphForm,
    VariantJob,
    try_forms,
)
from .convert import clone_for, convert, op_counts
from .flatgraph import subgraph_ops
from .int8_loop import DYNAMIC_RECIPE, build_dynamic_loop, build_int8_loop, loop_refusal
from .int8_loop import RECIPE as LOOP_RECIPE
from .isolated import convert_isolated
from .lean_unrolled import RECIPE as LEAN_RECIPE
from .lean_unrolled import build_dynamic_lean, lean_refusal
from .quantized import CALIBRATED, MAX_CALIBRATION, QUANTIZER, QUANTIZER_RECIPE, configure, strip_names, tflite_bytes
from .selective import RECIPE as TAIL_RECIPE
from .selective import float_input, quantize_tail

_HAND = (
    "one WHILE loop over the steps with a free batch, written by hand (the TF converter crashes calibrating "
    "WHILE): the step's op and tensor records once, not once per timestep. On (24, 3), against float32: "
)
_LOOP = {
    "int8": f"int8: {_HAND}LSTM(64) 24% of the bytes (unrolled int8: 58%), 0.88x the batch-1 latency (0.98x), "
    "1.82x the batch-1024 throughput (1.48x); GRU(64) 22% (92%), 0.98x (1.04x), 1.68x (1.57x) (measured, "
    "docs/quantization.md)",
    "dynamic": f"dynamic: int8 weights, float32 compute; {_HAND}LSTM(64) 21% of the bytes (unrolled dynamic: 48%), "
    "0.76x the batch-1 latency (unrolled: 0.67x), 1.63x the batch-1024 throughput (1.33x); GRU(64) 18% (52%), "
    "0.84x (0.72x), 1.31x (1.19x) (measured, docs/quantization.md)",
}
LOOP_VARIANTS = tuple(_LOOP)
# The loop is kept only where it is as accurate as issue 18 asks of int8 (p99 <= 3% of the output range).
# seed-lstm (10 units, 4 steps, output range 0.22): 4.7%, beside fused_batch1's 3.0%, so it keeps that form.
LOOP_MAX_P99 = 0.03
_LEAN = (
    "dynamic: any batch; int8 weights with float compute, the step unrolled by hand with one tensor per weight "
    "and no names or intermediate shapes (a small step's file is mostly records): seed-lstm 34% of float32's "
    "bytes (ai-edge-quantizer's unrolled dynamic: 66%), 0.85-0.91x its batch-1 latency (0.92-1.09x) (measured, "
    "docs/quantization.md)"
)
_COMPACT = "one loop body instead of one copy of the step per timestep: quantizing shrinks weights, not ops"
_ANY_BATCH = {
    "int8": "any batch; LiteRT runs its int8 fully-connected kernels (XNNPACK QS8): faster than float32 "
    "at batch 1 and 1024 (measured, docs/quantization.md)",
    "int16x8": "any batch; int16 activations and int8 weights run on LiteRT's reference kernels (slow on "
    "CPUs: this variant is for TensorFlow Lite Micro)",
    "dynamic": "any batch; int8 weights with float compute, as fast as float32 or faster",
    "float16": "any batch; fp16 weights dequantized at load, float32 compute",
    INT8_FLOAT_TAIL: "any batch; int8 kernels (XNNPACK QS8) for every step but each recurrent layer's last, "
    "which stays float32 with the head: the int8 hidden state's error, multiplied by the head, is the largest term",
}


def variant_forms(info: ModelInfo, variant: str) -> list[GraphForm]:
    """Graph forms to try for a variant, best first, each with the reason it is chosen."""
    if variant not in QUANTIZED:
        raise ExportError(f"unknown TFLite variant {variant!r}; expected one of {QUANTIZED}.")
    forms = []
    if variant in LOOP_VARIANTS and not loop_refusal(info):
        forms.append(GraphForm(WHILE, _LOOP[variant]))
    elif variant == "dynamic" and not lean_refusal(info):
        forms.append(GraphForm(UNROLLED_LEAN, _LEAN))
    if info.timesteps <= UNROLL_MAX_TIMESTEPS:
        forms.append(GraphForm(UNROLLED, f"{variant}: {_ANY_BATCH[variant]}"))
    if variant == INT8_FLOAT_TAIL and not forms:
        raise ExportError(
            f"{variant} is a recipe on the unrolled graph, and timesteps {info.timesteps} > "
            f"{UNROLL_MAX_TIMESTEPS} is too long to unroll; use 'dynamic'."
        )
    lstm_only = set(info.cells) == {"lstm"} and not info.bidirectional
    if variant in ("int8", "float16") and lstm_only:
        forms.append(
            GraphForm(
                FUSED_BATCH1,
                f"{variant}: TFLite's fused LSTM op holds the step once (the smallest file; batch fixed at 1; "
                "the op clips the cell state at 10, Keras does not)",
            )
        )
    if variant in ("dynamic", "float16"):
        forms.append(GraphForm(WHILE_BATCH1, f"{variant}: {_COMPACT} (batch fixed at 1)"))
    if not forms:
        raise ExportError(
            f"{variant} needs the unrolled form (calibrating a WHILE loop crashes the TF converter), and "
            f"timesteps {info.timesteps} > {UNROLL_MAX_TIMESTEPS} is too long to unroll; use 'dynamic'."
        )
    return forms


def weight_types(content: bytes) -> dict[str, int]:
    """Constant tensors (weights, biases) per element type, over all subgraphs: what quantization changed."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    counts: dict[str, int] = {}
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            data = model.buffers[tensor.buffer].data
            if data is not None and len(data):
                key = names.get(tensor.type, str(tensor.type))
                counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def quantize_tflite(
    model, path: Path, info: ModelInfo, variant: str, form: GraphForm, calibration: np.ndarray | None = None
) -> ArtifactEntry:
    """Write a quantized builtin-only .tflite of `model` in `form`.

    int8 is converted in a child process (isolated.py): calibration is where the converter
    crashes, and a crash must cost that variant only.

    Args:
        calibration: windows in model units (int8 only; at most MAX_CALIBRATION are used).

    Raises:
        ExportError: unknown variant/form, no calibration for int8, or the converter failed or crashed.
    """
    if variant not in QUANTIZED:
        raise ExportError(f"unknown TFLite variant {variant!r}; expected one of {QUANTIZED}.")
    extra: dict = {}
    if form.name == WHILE:
        refusal = loop_refusal(info) if variant in LOOP_VARIANTS else f"the {WHILE} form is written for {LOOP_VARIANTS}"
        if refusal:
            raise ExportError(refusal)
        if variant == "dynamic":
            content = build_dynamic_loop(model, info)
        else:
            configure(variant, calibration)  # refuses a missing calibration
            content = build_int8_loop(model, info, np.asarray(calibration, dtype=np.float32)[:MAX_CALIBRATION])
        recipe = DYNAMIC_RECIPE if variant == "dynamic" else LOOP_RECIPE
        extra.update(quantizer=recipe, weight_scales="per channel", ops_per_step=subgraph_ops(content)[-1])
    elif form.name == UNROLLED_LEAN:
        refusal = lean_refusal(info) if variant == "dynamic" else f"the {UNROLLED_LEAN} form is written for dynamic"
        if refusal:
            raise ExportError(refusal)
        content = build_dynamic_lean(model, info)
        extra.update(quantizer=LEAN_RECIPE, weight_scales="per channel")
    elif variant == INT8_FLOAT_TAIL:
        configure(variant, calibration)  # refuses a missing calibration
        content, tail = quantize_tail(convert(clone_for(model, form.name)[0]), calibration)
        content = float_input(content)  # float32 in and out: the graph quantizes its own input
        extra.update(quantizer=TAIL_RECIPE, float_ops=tail)
    elif variant in CALIBRATED:
        configure(variant, calibration)  # refuse a missing calibration before starting a process
        windows = np.asarray(calibration, dtype=np.float32)[:MAX_CALIBRATION]
        content = convert_isolated(model, variant, form.name, windows)
    else:
        content = tflite_bytes(model, variant, form.name, calibration)
    content = strip_names(content)
    if variant in CALIBRATED:
        extra["calibration_windows"] = int(min(len(calibration), MAX_CALIBRATION))
    extra["weights"] = weight_types(content)
    if variant != "float16" and not extra["weights"].get("int8"):
        raise ExportError(
            f"the {variant} conversion quantized no weight (every weight stays float: the converter's "
            "dynamic-range pass skips weights under 1,024 elements); not written, it would only repeat "
            f"model.tflite. Install {QUANTIZER.replace('_', '-')} ('edgernn[quantize]') to quantize every kernel."
        )
    if variant in ("int8", INT8_FLOAT_TAIL):
        extra.setdefault("weight_scales", "per tensor")
    if variant == "dynamic" and form.name not in (WHILE, UNROLLED_LEAN):
        aeq = optional.available(QUANTIZER) and form.name != FUSED_BATCH1
        extra["quantizer"] = f"{QUANTIZER}.{QUANTIZER_RECIPE}" if aeq else "the TFLite converter's dynamic range"
    Path(path).write_bytes(content)
    entry = ArtifactEntry(
        file=Path(path).name,
        format="tflite",
        variant=variant,
        graph_form=form.name,
        graph_form_reason=form.reason,
        batch=None if form.name in (UNROLLED, WHILE, UNROLLED_LEAN) else 1,
        # a hand-built file is read, not loaded, until the proof has run it in a child process
        ops=subgraph_ops(content)[0] if form.name in (WHILE, UNROLLED_LEAN) else op_counts(content),
        reset_variables=form.name == FUSED_BATCH1,
    )
    return entry.with_(**extra)


def write_variant(job: VariantJob) -> ArtifactEntry:
    """The variant in the first of its forms that converts and passes the held-out measurement."""
    path = job.folder / f"model.{job.variant}.tflite"

    def write(form: GraphForm) -> ArtifactEntry:
        return quantize_tflite(job.model, path, job.info, job.variant, form, job.calibration)

    def prove(content: bytes, entry: ArtifactEntry) -> ArtifactEntry:
        entry = job.measure(content, entry)
        p99 = entry.extra.get("p99_of_range")
        if entry.graph_form == WHILE and p99 is None:  # a constant output: no range to hold the loop to
            raise ExportError("the held-out windows give one output value, so the loop's p99 error cannot be measured")
        if entry.graph_form == WHILE and p99 > LOOP_MAX_P99:
            raise ExportError(
                f"p99 error {p99:.2%} of the output range on the held-out windows, above the {LOOP_MAX_P99:.0%} the "
                "loop must meet to replace the other forms (each step rounds h and c to int8: on small output "
                "ranges that noise adds up)"
            )
        return entry

    entry = try_forms(path, variant_forms(job.info, job.variant), write, prove)
    refusal = loop_refusal(job.info) if job.variant in LOOP_VARIANTS else ""
    if refusal:  # the loop was not tried: say why the file is not in the smallest int8 form
        entry = entry.with_(forms_refused=[f"{WHILE}: {refusal}", *entry.extra.get("forms_refused", [])])
    return entry
