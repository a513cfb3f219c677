"""Keras -> model.c, model.h, model_test.c, each proven before the bundle keeps them.

The proof, beyond the window cases every artifact passes (export/verify.py through the `c`
backend): model_test.c is compiled with model.c and must exit 0 on the host; a model that can
stream is stepped through 10 x T samples via `P_step` and compared with Keras's sequence output;
and, when arm-none-eabi-gcc is installed, the Cortex-M4 footprint is measured (export/formats/c/mcu.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgernn.runtime.backends.c import CFLAGS, CLibrary
from edgernn.runtime.backends.c import run_test_program as run_on_host
from edgernn.runtime.compare import compare, tolerance
from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import ArtifactEntry

from ...model_info import UnsupportedLayerError
from ...stream_proof import proof_cases
from ..base import GraphForm, Target, VariantJob, file_fields
from ..numpy.convert import V1_KINDS, chain_only, describe
from . import mcu
from .source import CModel, c_prefix, generate
from .testprog import test_program

FORM = GraphForm("c99", "C99 from the Keras weights: const arrays, fused gates, the state in the caller's struct")
INT8_FORM = GraphForm("c99", "C99, int8 weights with one float scale per output column, float activations")
TEST_SECONDS = 120


def forms(info) -> list[GraphForm]:
    if info.timesteps is None:
        raise UnsupportedLayerError(
            "the C format fixes the window length at compile time (P_T); export the free-T model with --timesteps T."
        )
    return [FORM]


def names(path: Path) -> tuple[str, str]:
    """(header, test program) beside `path`: model.c -> model.h, model_test.c; model.dynamic.c -> model.dynamic.h."""
    stem = path.name[: -len(".c")]
    base, _, variant = stem.partition(".")
    tail = f".{variant}" if variant else ""
    return f"{stem}.h", f"{base}_test{tail}.c"


def _generate(model, path: Path, target: Target, int8: bool) -> CModel:
    if target.spec.heads:
        raise UnsupportedLayerError(f"the C format writes one output; the model has {len(target.spec.heads)}.")
    if target.spec.inputs:
        raise UnsupportedLayerError(
            f"the C format's API takes one window (model_predict(x)); the model has {len(target.spec.inputs)} inputs."
        )
    try:
        layers, arrays = describe(model)  # the numpy format's layer list: the C kernels cover its version-1 set
    except UnsupportedLayerError as exc:
        raise UnsupportedLayerError(f"the C format has no kernel for it: {exc}") from exc
    chain_only(layers, V1_KINDS, "the C format")
    header_name, _ = names(path)
    cm = generate(c_prefix(target.name), target.spec, layers, arrays, int8=int8)
    path.write_text(cm.source, encoding="utf-8")
    (path.parent / header_name).write_text(cm.header, encoding="utf-8")
    return cm


def _entry(path: Path, cm: CModel, form: GraphForm, variant: str) -> ArtifactEntry:
    return ArtifactEntry(
        file=path.name, format="c", variant=variant, graph_form=form.name, graph_form_reason=form.reason, ops=cm.ops
    ).with_(
        prefix=cm.prefix,
        can_step=cm.can_step,
        state_widths=cm.state_widths,
        multiply_adds=cm.multiply_adds,
        c_flags=" ".join(CFLAGS),
    )


def _finish(model, info, path: Path, cm: CModel, target: Target, entry: ArtifactEntry, tol: float) -> ArtifactEntry:
    """Write model_test.c and run it on the host, step 10 x T samples, measure the MCU footprint; list the files."""
    header_name, test_name = names(path)
    test = test_program(
        cm.prefix, header_name, target.spec, target.golden_inputs, target.golden_outputs, tol, cm.can_step
    )
    (path.parent / test_name).write_text(test, encoding="utf-8")
    run_test_program(path.parent, path.name, header_name, test_name)
    steps = prove_stream(model, info, path.read_bytes(), entry, target, tol) if cm.can_step else 0
    companions = [{"file": n, **file_fields((path.parent / n).read_bytes())} for n in (header_name, test_name)]
    return entry.with_(companions=companions, verified_steps=steps, mcu=mcu.footprint_or_reason(path, header_name))


def run_test_program(folder: Path, source: str, header: str, test: str) -> str:
    """Compile the test program with the model on the host and run it; ExportError unless it exits 0."""
    passed, line = run_on_host({n: (folder / n).read_bytes() for n in (source, header, test)}, TEST_SECONDS)
    if not passed:
        raise ExportError(f"{test} fails on the host: {line}; not written.")
    return line


def prove_stream(model, info, content: bytes, entry: ArtifactEntry, target: Target, tol: float) -> int:
    """P_reset + P_step through 10 x T samples (batch 1 and 3) against Keras's sequence output."""
    spec = target.spec
    lib = CLibrary(content, entry, spec)
    steps = 0
    for label, xs, ref in proof_cases(model, info, seed=3):
        got = spec.y.to_model(lib.stream(spec.x.to_raw(xs)))
        result = compare(ref, got, tol)
        if not result:
            raise ExportError(
                f"{entry.file}: stepping {label} via {lib.prefix}_step: {result.describe()}; not written."
            )
        steps = max(steps, xs.shape[1])
    return steps


def write(model, path: Path, info, form: GraphForm, target: Target) -> ArtifactEntry:
    """model.c and model.h (float32 weights); then model_test.c, the stream and the footprint (see module doc)."""
    cm = _generate(model, path, target, int8=False)
    return _finish(model, info, path, cm, target, _entry(path, cm, form, "float32"), tolerance("c", "float32"))


def write_dynamic(job: VariantJob) -> ArtifactEntry:
    """model.dynamic.c: int8 weights; measured on the held-out windows, then tested like the float32 file."""
    if job.target is None:
        raise ExportError(
            "the C variant needs the bundle's name and preprocessing (a Target); export_bundle passes one."
        )
    path = job.folder / "model.dynamic.c"
    cm = _generate(job.model, path, job.target, int8=True)
    content = path.read_bytes()
    entry = job.measure(content, _entry(path, cm, INT8_FORM, "dynamic").with_(**file_fields(content)))
    tol = float(entry.tolerance or 0.0)
    golden = np.asarray(job.target.golden_outputs)
    # the golden windows are outside the held-out range the bound was resolved on; hold them to the same share
    span = float(golden.max() - golden.min()) if golden.size else 0.0
    tol = max(tol, tol / (entry.output_range or 1.0) * span)
    return _finish(job.model, job.info, path, cm, job.target, entry, tol).with_(golden_tolerance=tol)
