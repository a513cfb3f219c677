"""The float32 window model of each format, proven; a format that cannot carry the model is refused alone.

Prove, don't whitelist: TFLite and ONNX get every layer their converters turn into builtin ops, and
the proof (each file run in the shipped runtimes, 1e-5 against Keras) decides. The numpy and C
formats run their own kernels and refuse a layer they lack. Either way the refusal and its reason
go in the manifest's `refusals`, and the bundle keeps the formats that passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import MODEL_ROLE, ArtifactEntry, Refusal, Spec

from .formats import Target, get_format, try_forms
from .model_info import ModelInfo
from .verify import Case, verify


def write_window_model(
    model, folder: Path, fmt_name: str, info: ModelInfo, spec: Spec, cases: list[Case], target: Target | None = None
) -> ArtifactEntry:
    """The format's float32 window model in the first of its graph forms that passes parity."""
    fmt = get_format(fmt_name)
    path = folder / fmt.file("model")
    more = (target,) if fmt.needs_target else ()
    return try_forms(
        path,
        fmt.forms(info),
        lambda form: fmt.write(model, path, info, form, *more),
        lambda content, entry: verify(content, entry, spec, cases),
    )


def write_window_models(
    models: tuple[Any, Any],
    folder: Path,
    formats: Sequence[str],
    info: ModelInfo,
    spec: Spec,
    cases: list[Case],
    target: Target | None,
) -> tuple[list[ArtifactEntry], list[Refusal]]:
    """Each format's window model, or its refusal; `models` is (folded source, unfolded model).

    Raises:
        ExportError: no format could carry the model (every format's reason in the message).
    """
    source, unfolded = models
    entries, refusals = [], []
    for name in formats:
        get_format(name)  # an unknown name is a usage error, not a refusal
    for name in formats:
        model = unfolded if get_format(name).unfolded else source
        before = set(folder.iterdir())
        try:
            entries.append(write_window_model(model, folder, name, info, spec, cases, target))
        except EdgeRNNError as exc:
            refusals.append(Refusal(name, MODEL_ROLE, str(exc)))
            for left in set(folder.iterdir()) - before:  # a refused format's companions (model.h) go too
                left.unlink()
    if not entries:
        reasons = " || ".join(f"{r.format}: {r.reason}" for r in refusals)
        raise ExportError(f"no format could carry model {info.cell!r}: {reasons}")
    return entries, refusals
