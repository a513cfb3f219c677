"""Quantized step models: `step.float16.tflite` and `step.int8.tflite` beside the float32 `step.tflite`.

A quantized step model carries its state as float32 between steps (int8 quantizes it again at each
step's input), so its error can grow with the stream's length. Each one is proven like the window
variants, on the held-out windows (the calibration's distribution), laid end to end: over 10 x T
steps (batch 1 and 3, the float32 step model's proof length) and over DRIFT_STEPS steps (batch 1),
both against Keras's sequence output, each held to the variant's tolerance. int8 calibrates on the
(x_t, state) pairs the float step model passes through on the calibration windows, and converts in
a child process (isolated.py), like the window int8.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgernn.runtime.compare import tolerance_rule
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import ArtifactEntry, Spec, StreamingBlock
from edgernn.runtime.stream import StepModel

from .formats.base import file_fields, step_entry
from .formats.tflite.convert import convert, op_counts
from .formats.tflite.isolated import convert_isolated
from .formats.tflite.quantized import MAX_CALIBRATION, configure
from .model_info import ModelInfo
from .stream_proof import PROOF_BATCHES, PROOF_REPEATS, sequence_reference
from .variants import Windows
from .verify import Case, verify

STEP_VARIANTS = ("float16", "int8")
DRIFT_STEPS = 1000


def stream_cases(model, info: ModelInfo, held_out: np.ndarray) -> list[Case]:
    """Held-out windows end to end: 10 x T steps at batch 1 and 3, then DRIFT_STEPS at batch 1."""
    reference = sequence_reference(model)
    per = PROOF_REPEATS
    drift = -(-DRIFT_STEPS // info.timesteps)  # windows per drift row
    need = per * sum(PROOF_BATCHES) + drift
    pool = held_out[np.arange(need) % len(held_out)]
    cases, at = [], 0
    for batch in PROOF_BATCHES:
        rows = pool[at : at + per * batch].reshape(batch, per * info.timesteps, info.features)
        cases.append(Case(f"{per * info.timesteps} steps of held-out windows, batch {batch}", rows, None))
        at += per * batch
    long = pool[at : at + drift].reshape(1, -1, info.features)[:, :DRIFT_STEPS]
    cases.append(Case(f"{DRIFT_STEPS} steps of held-out windows (drift)", long, None))
    return [Case(c.name, c.inputs, np.asarray(reference(c.inputs, training=False), np.float32)) for c in cases]


def step_calibration(step_model, windows: np.ndarray, states: Sequence[dict]) -> list[np.ndarray]:
    """(x_t, *states) rows, shuffled, the float step model passes through on `windows` laid end to end
    PROOF_REPEATS at a time (the states of long streams, not only of the first T steps), from zero."""
    per = min(PROOF_REPEATS, len(windows))
    x = windows[: len(windows) // per * per].reshape(-1, per * windows.shape[1], windows.shape[2])
    x = x[: max(1, 4 * MAX_CALIBRATION // x.shape[1])]
    values = [np.zeros((len(x), int(s["shape"][0])), np.float32) for s in states]
    rows: list[list[np.ndarray]] = [[] for _ in range(1 + len(states))]
    for t in range(x.shape[1]):
        feed = [x[:, t], *values]
        for slot, value in zip(rows, feed):
            slot.append(value)
        out = step_model(feed, training=False)
        values = [np.asarray(out[s["output"]], np.float32) for s in states]
    order = np.random.default_rng(0).permutation(sum(len(v) for v in rows[0]))
    return [np.concatenate(slot)[order] for slot in rows]


def write_step_variants(
    model,
    source,
    folder: Path,
    info: ModelInfo,
    spec: Spec,
    block: StreamingBlock | None,
    variants: Sequence[str],
    windows: Windows,
    options,
) -> tuple[list[ArtifactEntry], list[dict[str, str]]]:
    """Write and prove each requested step variant (for a streaming bundle with TFLite in
    `options.formats`); a failure costs that file only (with its reason)."""
    entries, failures = [], []
    if block is None or "tflite" not in options.formats:
        return entries, failures
    cases = stream_cases(model, info, windows.holdout.inputs)
    for variant in [v for v in STEP_VARIANTS if v in variants]:
        path = folder / f"step.{variant}.tflite"
        try:
            content = _convert(source, info, spec, variant, windows)
            path.write_bytes(content)
            entry = step_entry(path, "tflite", op_counts(content)).with_(variant=variant, **file_fields(content))

            def stepper(name: str, data: bytes, entry=entry):
                return StepModel.load(name, data, entry, spec, block).run_model_units

            tol = tolerance_rule("tflite", variant).bound(windows.output_range)
            # first in a child (verify): a converter's own int8 output can crash the interpreter
            entry = verify(content, entry, spec, cases, tol=tol, opener=stepper, streaming=block)
            drift = _errors(content, entry, spec, block, cases)
            entries.append(
                entry.with_(
                    verified_steps=DRIFT_STEPS, output_range=windows.output_range, checked_on="holdout", **drift
                )
            )
        except EdgeRNNError as exc:
            path.unlink(missing_ok=True)
            failures.append({"format": "tflite", "variant": f"{variant} (step)", "reason": str(exc)})
    return entries, failures


def _convert(source, info: ModelInfo, spec: Spec, variant: str, windows: Windows) -> bytes:
    if variant == "float16":
        return step_bytes(source, variant, None)
    from .streaming import build_step_model

    step, states = build_step_model(source, info)
    calib = windows.calibration if windows.calibration is not None else windows.holdout.inputs
    if spec.folded:
        calib = spec.x.to_raw(calib).astype(np.float32)
    return convert_isolated(source, variant, "step", step_calibration(step, calib, states), module=__spec__.name)


def step_bytes(model, variant: str, calibration: list[np.ndarray] | None) -> bytes:
    """The quantized step model of `model` (float16, or int8 with float state in and out), in this process.

    int8 calibrates on `calibration`: x_t and each state, one row per sample, in the step model's input
    order. Tensor names stay: the runtime finds the state tensors by the step model's signature.
    """
    import tensorflow as tf

    from .model_info import inspect_model
    from .streaming import build_step_model

    step, _ = build_step_model(model, inspect_model(model))
    if variant == "float16":
        return convert(step, optimize=[tf.lite.Optimize.DEFAULT], configure=configure("float16", None))
    if variant != "int8" or not calibration:
        raise ExportError(f"step models are quantized to float16 or int8 (with calibration), not {variant!r}.")
    rows = min(len(calibration[0]), MAX_CALIBRATION)
    names = [t.name for t in step.inputs]  # by name: the converter orders a multi-input graph its own way

    def representative():
        for i in range(rows):
            yield {name: a[i : i + 1] for name, a in zip(names, calibration)}

    def int8(converter) -> None:  # float input and output: the state is carried as float between steps
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

    return convert(step, optimize=[tf.lite.Optimize.DEFAULT], configure=int8)


def _errors(content: bytes, entry: ArtifactEntry, spec: Spec, block: StreamingBlock, cases: list[Case]) -> dict:
    """Stream-vs-full max abs error over 10 x T steps and over DRIFT_STEPS, in LiteRT (model units)."""
    run = StepModel.load("litert", content, entry, spec, block).run_model_units
    errs = [float(np.max(np.abs(run(c.inputs) - c.outputs))) for c in cases]
    return {"stream_error_10T": max(errs[:-1]), f"stream_error_{DRIFT_STEPS}_steps": errs[-1]}


if __name__ == "__main__":  # the isolated int8 conversion's child (formats/tflite/isolated.py)
    from .formats.tflite.isolated import serve

    sys.exit(serve(lambda model, variant, _form, calibration: step_bytes(model, variant, calibration)))
