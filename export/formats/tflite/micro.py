"""The `tflm` variant: a batch-1 float32 TFLite file for TensorFlow Lite Micro, with model_data.cc,
model_ops.h and the arena it needs.

TFLM refuses the free-batch model.tflite (FILL with non-constant dims), so each batch-1 form is
converted (a WHILE loop, the fused LSTM op for LSTM-only models, the unrolled graph) and run in
the tflite-micro package's interpreter on the golden windows, the interpreter reset before every
window; the smallest arena that works is found by bisection, each probe in a child process (a too
small arena can crash TFLM). The form with the smallest working arena is kept; the manifest
records it (`arena_min_bytes`) and the size to allocate (`arena_bytes`, with headroom).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import ArtifactEntry

from ...model_info import clone_with
from ..base import FUSED_BATCH1, UNROLLED_BATCH1, WHILE_BATCH1, GraphForm, VariantJob, file_fields
from ..c.source import c_prefix
from .convert import convert, op_counts
from .quantize import weight_types

VARIANT = "tflm"
FIRST_ARENAS, STEP = (1 << 16, 1 << 20), 256  # tried in turn until one works; then bisection to 256 B
PROBE_SECONDS = 120
PROBE = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
from edgernn.runtime.backends.tflm import quantizer
it = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(), arena_size=int(sys.argv[3]))
(to_input, _), (_, from_output) = quantizer(it.get_input_details(0)), quantizer(it.get_output_details(0))
out = []
for w in np.load(sys.argv[2]):
    it.reset()
    it.set_input(to_input(w[None]), 0)
    it.invoke()
    out.append(from_output(it.get_output(0))[0])
np.save(sys.argv[4], np.stack(out))
"""


def headroom(arena: int) -> int:
    """What to allocate: the smallest working arena plus 10% (at least 512 B), rounded up to 256 B."""
    more = max(512, arena // 10)
    return -(-(arena + more) // STEP) * STEP


def probe(work: Path, arena: int, want: np.ndarray, tol: float) -> str:
    """'' when TFLM runs the file in `arena` bytes and matches `want`; else why not."""
    args = [str(work / "m.tflite"), str(work / "x.npy"), str(arena), str(work / "y.npy")]
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", PROBE, *args], capture_output=True, text=True, timeout=PROBE_SECONDS
        )
    except subprocess.TimeoutExpired:
        return f"TFLM ran past {PROBE_SECONDS} s"
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        return (lines[-1] if lines else f"exit {done.returncode}")[:300] + (
            f" (signal {-done.returncode})" if done.returncode < 0 else ""
        )
    got = np.load(work / "y.npy")
    err = float(np.abs(got.astype(np.float64) - want.reshape(got.shape)).max())
    return "" if err <= tol else f"max abs error {err:.3g} against Keras (tolerance {tol:g})"


def smallest_arena(content: bytes, x: np.ndarray, want: np.ndarray, tol: float) -> tuple[int, str]:
    """(smallest working arena in bytes, '') or (0, why TFLM cannot run it)."""
    with tempfile.TemporaryDirectory(prefix="edgernn-tflm-") as tmp:
        work = Path(tmp)
        (work / "m.tflite").write_bytes(content)
        np.save(work / "x.npy", np.asarray(x, np.float32))
        hi = 0
        for arena in FIRST_ARENAS:
            why = probe(work, arena, want, tol)
            if not why:
                hi = arena
                break
        if not hi:
            return 0, why
        lo = 0
        while hi - lo > STEP:
            mid = (lo + hi) // 2 // STEP * STEP
            lo, hi = (lo, mid) if not probe(work, mid, want, tol) else (mid, hi)
        return hi, ""


def candidates(model, info) -> list[tuple[GraphForm, bytes | str]]:
    """(form, bytes or why it did not convert) for each batch-1 form, most compact first."""
    from .fused_lstm import ineligible, saved_model

    out: list[tuple[GraphForm, bytes | str]] = []
    forms = [
        (GraphForm(WHILE_BATCH1, "TFLM: one loop body, batch 1"), lambda: clone_with(model, unroll=False, batch=1))
    ]
    forms.append(
        (
            GraphForm(UNROLLED_BATCH1, "TFLM: the unrolled graph, batch 1"),
            lambda: clone_with(model, unroll=True, batch=1),
        )
    )
    for form, clone in forms:
        try:
            out.append((form, convert(clone())))
        except EdgeRNNError as exc:
            out.append((form, str(exc)))
    if ineligible(model) is None:
        import tensorflow as tf

        form = GraphForm(FUSED_BATCH1, "TFLM: TFLite's fused LSTM op, batch 1 (its h, c reset before every window)")
        try:
            with saved_model(model) as path:
                out.append((form, convert(None, converter=tf.lite.TFLiteConverter.from_saved_model(path))))
        except EdgeRNNError as exc:
            out.append((form, str(exc)))
    return out


def write_tflm(job: VariantJob) -> ArtifactEntry:
    """model.tflm.tflite in the batch-1 form with the smallest TFLM arena, and model_data.cc / model_ops.h.

    Raises:
        ExportError: tflite-micro is not installed, or no form runs in TFLM (every form's reason).
    """
    return write_micro(job, VARIANT, lambda: candidates(job.model, job.info), 1e-5)


def write_micro(job: VariantJob, variant: str, found, tol: float | None) -> ArtifactEntry:
    """The TFLM `variant` from the `found()` forms: the one with the smallest working arena, written as
    model.<variant>.tflite with its C array and op resolver, then measured (job.measure).

    `tol`: the bound (model units) each form must meet on the golden windows while its arena is sized;
    None checks only that TFLM runs it and answers finite values (a quantized variant's error is
    measured on the held-out windows by job.measure, against its own rule)."""
    if not optional.available("tflite_micro"):
        hint = optional.hint("tflite_micro")
        raise ExportError(f"the {variant} variant needs tflite-micro to size the arena: {hint}.")
    if job.target is None:
        raise ExportError(f"the {variant} variant needs the golden windows (a Target); export_bundle passes one.")
    x, want, spec = job.target.golden_inputs, job.target.golden_outputs, job.target.spec
    tol = float("inf") if tol is None else tol
    if spec.folded:  # the file takes and returns raw units (export/fold.py): so does the proof, same bound
        x, want = spec.x.to_raw(x), spec.y.to_raw(want)
        tol = tol / float(np.min(np.abs(spec.y.scale)))
    tried, working = {}, []
    for form, content in found():
        arena, why = (0, content) if isinstance(content, str) else smallest_arena(content, x, want, tol)
        tried[form.name] = {"arena_min_bytes": arena, "bytes": len(content)} if arena else {"refused": why}
        if arena:
            working.append((arena, form, content))
    if not working:
        raise ExportError("TFLM runs none of the batch-1 forms: " + "; ".join(f"{k}: {v}" for k, v in tried.items()))
    path, failures = job.folder / f"model.{variant}.tflite", []
    for arena, form, content in sorted(working, key=lambda w: w[0]):  # the smallest arena within tolerance
        try:
            entry = _measured(job, path, variant, form, content, arena)
            break
        except EdgeRNNError as exc:
            path.unlink(missing_ok=True)  # a file the manifest does not list must not stay in the bundle
            tried[form.name]["refused"] = str(exc)
            failures.append(f"{form.name}: {exc}")
    else:
        raise ExportError(f"{path.name}: no form TFLM runs is within tolerance: " + " | ".join(failures))
    entry, ops = entry.with_(tflm_forms=tried), entry.ops
    suffix = "" if variant == VARIANT else "_" + variant.split("-", 1)[1]  # tflm-int8: model_int8_data.cc
    stem, prefix = f"model{suffix}", c_prefix(job.target.name) + suffix
    names = (f"{stem}_data.cc", f"{stem}_ops.h")
    (job.folder / names[0]).write_text(model_data(prefix, content, names[1]), encoding="utf-8")
    (job.folder / names[1]).write_text(model_ops(prefix, ops, headroom(arena), path.name), encoding="utf-8")
    companions = [{"file": n, **file_fields((job.folder / n).read_bytes())} for n in names]
    return entry.with_(companions=companions)


def _measured(job: VariantJob, path, variant: str, form: GraphForm, content: bytes, arena: int) -> ArtifactEntry:
    """Write `content` to `path` and measure it (job.measure); its entry, or EdgeRNNError."""
    path.write_bytes(content)
    entry = ArtifactEntry(
        file=path.name,
        format="tflite",
        variant=variant,
        graph_form=form.name,
        graph_form_reason=form.reason + "; the smallest TFLM arena of the forms within tolerance",
        batch=1,
        ops=op_counts(content),
        reset_variables=form.name == FUSED_BATCH1,
        **file_fields(content),
    ).with_(arena_min_bytes=arena, arena_bytes=headroom(arena), weights=weight_types(content))
    return job.measure(content, entry)


def model_data(prefix: str, content: bytes, header: str = "model_ops.h") -> str:
    rows = [", ".join(f"0x{b:02x}" for b in content[i : i + 16]) for i in range(0, len(content), 16)]
    body = ",\n  ".join(rows)
    return (
        f"// The TFLM file as a C array: TFLM reads the flatbuffer in place, so it stays in flash.\n"
        f'#include "{header}"\n\nalignas(16) const unsigned char {prefix}_model_data[] = {{\n  {body}\n}};\n'
        f"const unsigned int {prefix}_model_data_len = {len(content)};\n"
    )


def resolver_method(op: str) -> str:
    """TFLM's MicroMutableOpResolver method for a builtin op name (FULLY_CONNECTED -> AddFullyConnected)."""
    special = {"UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM"}
    return special.get(op, "Add" + "".join(part.capitalize() if part.isalpha() else part for part in op.split("_")))


def model_ops(prefix: str, ops: dict[str, int], arena: int, file: str = "model.tflm.tflite") -> str:
    methods = sorted({resolver_method(op) for op in ops})
    adds = "".join(f"  if (r.{m}() != kTfLiteOk) return kTfLiteError;\n" for m in methods)
    return (
        f"// The ops {file} uses, and the arena it needs (measured with the tflite-micro interpreter).\n"
        f'#pragma once\n#include <cstddef>\n#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n\n'
        f"constexpr std::size_t k_{prefix}_arena_bytes = {arena};\n"
        f"extern const unsigned char {prefix}_model_data[];\nextern const unsigned int {prefix}_model_data_len;\n\n"
        f"using {prefix}_op_resolver = tflite::MicroMutableOpResolver<{len(methods)}>;\n\n"
        f"inline TfLiteStatus {prefix}_register_ops({prefix}_op_resolver &r) {{\n{adds}  return kTfLiteOk;\n}}\n"
    )
