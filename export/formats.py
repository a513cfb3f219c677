"""The export formats, one row each: how to write them, which forms to try, which backends prove them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import numpy_weights
from . import onnx as onnx_export
from . import tflite as tflite_export
from .artifact import Artifact
from .model_info import ModelInfo


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    backends: tuple[str, ...]  # runtime backends that run this format and so verify it
    forms: Callable[[ModelInfo], list[tuple[str, str]]]
    write: Callable[..., Artifact]  # write(model, path, info, form=..., reason=...)


def _tflite_forms(info: ModelInfo) -> list[tuple[str, str]]:
    first = tflite_export.graph_form_for(info)
    if first[0] == "unrolled":
        return [first, ("while_batch1", "fallback: the unrolled form did not pass parity")]
    return [first]


def _write_tflite(model, path: Path, info: ModelInfo, *, form: str, reason: str) -> Artifact:
    art = tflite_export.export_tflite(model, path, info, form=form)
    art.graph_form_reason = reason
    return art


FORMATS: tuple[Format, ...] = (
    Format("tflite", ".tflite", ("litert",), _tflite_forms, _write_tflite),
    Format("onnx", ".onnx", ("onnxruntime",), onnx_export.candidate_forms, onnx_export.export_onnx),
    Format("numpy", ".npz", ("numpy",), numpy_weights.numpy_forms, numpy_weights.export_numpy),
)
FORMAT_NAMES = tuple(f.name for f in FORMATS)


def get_format(name: str) -> Format:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    from edgernn.runtime.errors import ExportError

    raise ExportError(f"unknown format {name!r}; expected one of {FORMAT_NAMES}.")
