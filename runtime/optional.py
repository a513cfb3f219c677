"""Optional dependencies: one table of what each extra brings, and one way to import it.

    ort = optional.require("onnxruntime", "the onnxruntime backend")   # the module, or MissingExtraError
    optional.available("ai_edge_litert")                                # importable here? (no import)

Like Keras' LazyModule: nothing is imported until asked for, so a device with one runtime never
touches the others, and every "install this" message comes from one table.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from .errors import MissingExtraError

# Top-level module -> (the distribution that provides it, the edgernn extra that installs it).
EXTRAS: dict[str, tuple[str, str]] = {
    "onnxruntime": ("onnxruntime", "onnx"),
    "ai_edge_litert": ("ai-edge-litert", "litert"),
    "tflite_runtime": ("tflite-runtime", "tflite-runtime"),
    "tflite_micro": ("tflite-micro", "tflm"),
    "tensorflow": ("tensorflow", "train"),
    "keras": ("keras", "train"),
    "tf_keras": ("tensorflow", "train"),
    "tf2onnx": ("tf2onnx", "train"),
    "onnx": ("onnx", "train"),
    "rich": ("rich", "cli"),
    "matplotlib": ("matplotlib", "cli"),
    "ray": ("ray[data]", "ray"),
    "pyarrow": ("pyarrow", "ray"),  # Parquet in and out; ray[data] brings it
}


def available(module: str) -> bool:
    """Whether `module` can be imported here, found without importing it."""
    top = module.split(".")[0]
    if top in sys.modules:  # imported already (a path search costs a cold start ~0.1 ms each), or
        return sys.modules[top] is not None  # blocked with sys.modules[name] = None, as find_spec says
    # What importlib.util.find_spec does for a top-level name, without importing importlib.util (~0.2 ms
    # of cold start on a load that then imports the module anyway): ask each finder on sys.meta_path.
    try:
        return any(f.find_spec(top, None) is not None for f in sys.meta_path if hasattr(f, "find_spec"))
    except (ImportError, ValueError):  # a broken install
        return False


def hint(module: str) -> str:
    """The pip command that installs `module` with edgernn."""
    _, extra = EXTRAS[module.split(".")[0]]
    return f"pip install 'edgernn[{extra}]' (from a checkout: pip install -e '.[{extra}]')"


def missing(module: str, purpose: str) -> MissingExtraError:
    """The error for `purpose` needing `module`, which is not installed."""
    package, _ = EXTRAS[module.split(".")[0]]
    return MissingExtraError(
        f"{purpose} needs the '{package}' package, which is not installed. Install it with: {hint(module)}"
    )


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` (dotted names too), or raise MissingExtraError naming the extra for `purpose`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top in EXTRAS:  # the module itself, or an optional package it needs, is absent
            raise missing(top, purpose) from None
        raise


def is_missing(exc: BaseException) -> str | None:
    """The optional top-level module a ModuleNotFoundError is about, or None for any other error."""
    top = (getattr(exc, "name", None) or "").split(".")[0]
    return top if isinstance(exc, ModuleNotFoundError) and top in EXTRAS else None
