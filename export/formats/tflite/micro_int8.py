"""The `tflm-int8` variant: a batch-1 full-integer TFLite file for TensorFlow Lite Micro, with
model_int8_data.cc, model_int8_ops.h and the arena it needs (sized like the float `tflm` variant's,
micro.py).

TFLM's int8 kernels are what a microcontroller without an FPU runs well. The forms: the unrolled
graph with a batch of 1 (every cell; ai-edge-quantizer's static int8 as selective.py calibrates it,
or the TF converter's int8 without the `quantize` extra) and TFLite's fused LSTM op (LSTM and Dense
models only; the TF converter; TFLM's int8 kernel keeps the cell state in int16). The WHILE form is
not tried: calibrating it segfaults the TF 2.21 converter. TF converter runs are in a child process
(isolated.py), like the window int8; all are calibrated on the same windows, names stripped (TFLM
runs by index). Their arenas are sized in TFLM; the forms are measured in the order of their
arenas and the first within tolerance is kept. Its input and
output are int8 (the runtime quantizes and dequantizes raw floats with the tensors' scale and zero
point). The error is measured on the held-out windows in the tflm backend and in LiteRT, held to
the int8 rule (5% of the output range).
"""

from __future__ import annotations

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import ArtifactEntry

from ..base import FUSED_BATCH1, UNROLLED_BATCH1, GraphForm, VariantJob
from .convert import clone_for, convert
from .isolated import convert_isolated
from .micro import write_micro
from .quantized import MAX_CALIBRATION, QUANTIZER, strip_names
from .selective import quantize_tail

# ai-edge-quantizer's static int8 with the global calibrated ranges (selective.py, every op int8): on
# sunspots-gru 0.5% of the output range on TFLM against 8.6% for the TF converter's int8 (refused)
AEQ_RECIPE = "ai_edge_quantizer static int8, calibrated min/max widened by 10%"

VARIANT = "tflm-int8"


def candidates(job: VariantJob) -> list[tuple[GraphForm, bytes | str]]:
    """(form, bytes or why it did not convert) for each batch-1 int8 form."""
    from .fused_lstm import ineligible

    if job.calibration is None or len(job.calibration) == 0:
        raise ExportError(f"{VARIANT} needs calibration windows (representative= or --calibration WINDOWS.npy).")
    windows = np.asarray(job.calibration, dtype=np.float32)[:MAX_CALIBRATION]
    aeq = optional.available(QUANTIZER)
    quantizer = AEQ_RECIPE if aeq else "the TF converter"

    def unrolled() -> bytes:
        if not aeq:
            return convert_isolated(job.model, "int8", UNROLLED_BATCH1, windows)
        return quantize_tail(convert(clone_for(job.model, UNROLLED_BATCH1)[0]), windows, float_tail=False)[0]

    def fused() -> bytes:
        return convert_isolated(job.model, "int8", FUSED_BATCH1, windows)

    forms = [(GraphForm(UNROLLED_BATCH1, f"TFLM int8: the unrolled graph, batch 1 ({quantizer})"), unrolled)]
    if ineligible(job.model) is None:
        reason = "TFLM int8: TFLite's fused LSTM op, batch 1 (the TF converter; int16 cell state, clipped at 10)"
        forms.append((GraphForm(FUSED_BATCH1, reason), fused))
    out: list[tuple[GraphForm, bytes | str]] = []
    for form, make in forms:
        try:
            out.append((form, strip_names(make())))
        except EdgeRNNError as exc:
            out.append((form, str(exc)))
    return out


def write_tflm_int8(job: VariantJob) -> ArtifactEntry:
    """model.tflm-int8.tflite in the batch-1 int8 form with the smallest TFLM arena, and its C files.

    Raises:
        ExportError: tflite-micro is not installed, no calibration windows, or no form runs in TFLM.
    """
    return write_micro(job, VARIANT, lambda: candidates(job), None)
