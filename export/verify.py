"""Prove an artifact by running it in the runtimes we ship and comparing with Keras."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgernn.runtime import backends
from edgernn.runtime.compare import compare, tolerance
from edgernn.runtime.errors import ExportError, ModelLoadError
from edgernn.runtime.isolate_file import run_isolated
from edgernn.runtime.manifest import ArtifactEntry, Spec, StreamingBlock

from .heads import keras_outputs
from .padding import pad
from .tokens import random_ids

ISOLATED = ("litert", "onnxruntime", "tflm")  # native interpreters in this process: first run in a child
Opener = Callable[[str, bytes], Callable[[np.ndarray], np.ndarray]]  # (backend, content) -> run(inputs)


@dataclass(frozen=True)
class Case:
    """Inputs in model units and the Keras outputs for them."""

    name: str
    inputs: np.ndarray
    outputs: np.ndarray


def keras_cases(
    model,
    golden_inputs: np.ndarray,
    seed: int = 1,
    scale: float = 1.0,
    lengths: tuple[int, ...] = (),
    mask_value: float | None = None,
    vocabulary: int | None = None,
) -> list[Case]:
    """The golden case plus fresh random batches of 1 and 8, and of 2 at each of `lengths` (a free-T
    model's other sequence lengths), each with Keras's answers; padded with `mask_value` when given;
    int32 ids in [0, vocabulary) for a token model."""
    rng = np.random.default_rng(seed)
    if vocabulary:
        draw = lambda shape: random_ids(rng, shape, vocabulary)  # noqa: E731
    else:
        draw = lambda shape: rng.uniform(-scale, scale, shape).astype(np.float32)  # noqa: E731
    shape = golden_inputs.shape[1:]
    cases = [("golden", golden_inputs)]
    for batch in (1, 8):
        cases.append((f"random batch {batch}", draw((batch, *shape))))
    for steps in lengths:
        cases.append((f"T={steps}", draw((2, steps, *shape[1:]))))
    if mask_value is not None:  # a Masking model: the random cases hit the mask (export/padding.py)
        cases = cases[:1] + [(f"{name}, padded", pad(x, mask_value)) for name, x in cases[1:]]
    return [Case(name, x, keras_outputs(model, x)) for name, x in cases]


def window_opener(spec: Spec, entry: ArtifactEntry) -> Opener:
    """Open the content as a window model, as `Bundle.predictor` does; model units in and out (a
    folded artifact is fed raw units and its answers mapped back, so errors stay in model units)."""
    if not spec.folded:
        return lambda name, content: backends.open_window(name, content, entry, spec).run

    def opener(name: str, content: bytes) -> Callable[[np.ndarray], np.ndarray]:
        run = backends.open_window(name, content, entry, spec).run
        return lambda xm: spec.y.to_model(run(spec.x.to_raw(xm).astype(spec.input_dtype))).astype(np.float32)

    return opener


def verify(
    content: bytes,
    entry: ArtifactEntry,
    spec: Spec,
    cases: list[Case],
    tol: float | None = None,
    opener: Opener | None = None,
    streaming: StreamingBlock | None = None,
) -> ArtifactEntry:
    """Run `content` in every installed backend of its format on every case.

    Every backend with a native interpreter (ISOLATED) runs the file in a child process first, so a
    crash refuses the file with the signal named: window models always, step models when `streaming`
    (their StreamingBlock) is given.

    Args:
        tol: the absolute tolerance; default the table's for the entry's (format, variant).
        opener: (backend, content) -> a function from case inputs to outputs; default opens the content
            as a window model (step models pass one that steps through the case).

    Returns the entry with max_abs_error, mean_abs_error, max_rel_error, tolerance and verified_with.

    Raises:
        ExportError: no backend is installed to prove it, it fails to load, or it is beyond tolerance.
    """
    tol = tolerance(entry.format, entry.variant) if tol is None else tol
    names = tuple(n for n in backends.backends_for(entry.format) if backends.runs(n, entry))
    usable = [n for n in names if backends.available(n)]
    if not usable:
        raise ExportError(
            f"{entry.file}: no runtime is installed to prove it (needs one of {list(names)}); "
            "install 'edgernn[all]'. An artifact is never written unproven."
        )
    first_in_child = opener is None or streaming is not None
    opener = opener or window_opener(spec, entry)
    worst_abs = worst_rel = worst_mean = 0.0
    for name in usable:
        if first_in_child and name in ISOLATED:
            prove_isolated(name, content, entry, spec, cases, streaming)
        try:
            run = opener(name, content)
            results = [(case, compare(case.outputs, run(case.inputs), tol)) for case in cases]
        except Exception as exc:  # a backend error of any type means the artifact is not proven
            raise ExportError(f"{entry.file} does not run in {name}: {exc}") from exc
        for case, result in results:
            if not result:
                raise ExportError(
                    f"{entry.file} ({entry.graph_form} form) in {name} on {case.name}: "
                    f"{result.describe()}; not written."
                )
            worst_abs, worst_rel = max(worst_abs, result.max_abs_error), max(worst_rel, result.max_rel_error)
            worst_mean = max(worst_mean, result.mean_abs_error)
    return entry.with_(
        max_abs_error=worst_abs,
        mean_abs_error=worst_mean,
        max_rel_error=worst_rel,
        tolerance=tol,
        verified_with=tuple(usable),
    )


def prove_isolated(
    name: str, content: bytes, entry: ArtifactEntry, spec: Spec, cases: list[Case], streaming: StreamingBlock | None
) -> None:
    """Run the cases through `content` in backend `name` in a child process first: a file that crashes
    the interpreter (a segfault in LiteRT's allocate_tensors, say) is refused with the signal named,
    and the export goes on with the other artifacts. A step model (`streaming`) is stepped through the
    first case's samples (model units, from the zero state): loading it and stepping is what can crash."""
    if streaming is not None:
        first = cases[0].inputs  # (samples, initial states) for a model with initial_state inputs
        inputs = first[0] if isinstance(first, tuple) else first
    else:
        shapes: dict[tuple[int, ...], list[np.ndarray]] = {}  # one array per sequence length
        for case in cases:
            shapes.setdefault(case.inputs.shape[1:], []).append(case.inputs)
        inputs = [np.concatenate(group) for group in shapes.values()]
        if spec.folded:
            inputs = [spec.x.to_raw(x).astype(spec.input_dtype) for x in inputs]
    try:
        run_isolated(name, content, entry, spec, inputs, streaming=streaming)
    except ModelLoadError as exc:
        raise ExportError(f"{exc}; not written.") from None
