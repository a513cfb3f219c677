"""Runtime backends: one module per runtime, one registry line each.

A backend module exposes `NAME`, `FORMATS` (artifact formats it runs), `available()`,
`open(content, entry, spec) -> Backend` and, for streaming step models, `open_step(content, entry,
inputs, outputs)` whose `run_step(arrays) -> arrays` maps named inputs to named outputs. Modules are imported only when asked for, so a device
with one runtime installed never touches the others.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol, Sequence

import numpy as np

from ..errors import BackendUnavailableError, EdgeRNNError, InputError, ModelLoadError, UnsupportedModelError
from ..guard import check_io
from ..manifest import Spec


class Backend(Protocol):
    """A loaded model in one runtime. `run` takes and returns float32 arrays in model units."""

    name: str
    thread_safe: bool
    input_shape: list  # the model's own shapes, free dims as -1/None/a name: checked against the manifest
    output_shape: list

    def run(self, x: np.ndarray) -> np.ndarray: ...


# name -> module, in the order `auto` prefers them: fastest batch-1 first, as measured by
# benchmarks/backend_latency.py (README "Backends", benchmarks/RESULTS-install.md).
REGISTRY: dict[str, str] = {
    "litert": "edgernn.runtime.backends.litert",
    "onnxruntime": "edgernn.runtime.backends.ort",
    "numpy": "edgernn.runtime.backends.numpy_ref",
}


def backend_module(name: str) -> ModuleType:
    """The module of a registered backend, or InputError listing the known names."""
    if name not in REGISTRY:
        raise InputError(f"unknown backend {name!r}; expected one of {sorted(REGISTRY)} or 'auto'.")
    return importlib.import_module(REGISTRY[name])


def installed() -> list[str]:
    """Registered backends whose runtime package is importable here, in `auto` order."""
    return [name for name in REGISTRY if backend_module(name).available()]


# Measured exceptions to the registry order at batch 1 (README "Backends"; benchmarks/backend_latency.py):
LONG_LSTM_STEPS = 32  # from here onnxruntime's fused LSTM op beats LiteRT's unrolled graph (RESULTS-auto.md)


def auto_order(manifest: dict[str, Any], names: Sequence[str] | None = None) -> list[str]:
    """Installed backends (or `names`), fastest first for this bundle: the registry order, except that
    onnxruntime goes before litert for a fused-LSTM ONNX artifact of LONG_LSTM_STEPS steps or more, and
    numpy before onnxruntime for SimpleRNN-only models (14 vs 17 us on the seed, 80 vs 83 us at 64x32)."""
    order = list(installed() if names is None else names)

    def put_before(first: str, second: str) -> None:
        if first in order and second in order and order.index(first) > order.index(second):
            order.remove(first)
            order.insert(order.index(second), first)

    fused = any(a.get("format") == "onnx" and a.get("graph_form") == "fused" for a in manifest["artifacts"])
    if fused and manifest["input"]["timesteps"] >= LONG_LSTM_STEPS:
        put_before("onnxruntime", "litert")
    cells = manifest.get("model", {}).get("cells") if isinstance(manifest.get("model"), dict) else None
    if isinstance(cells, list) and cells and all(c == "simple_rnn" for c in cells):  # junk: the default order
        put_before("numpy", "onnxruntime")
    return order


def formats_of(name: str) -> tuple[str, ...]:
    return backend_module(name).FORMATS


def open_backend(name: str, content: bytes, entry: dict[str, Any], spec: Spec) -> Backend:
    """Open `content` (the checked bytes of the artifact `entry`) in backend `name`."""
    module = backend_module(name)
    if not module.available():
        raise BackendUnavailableError(f"backend {name!r} is not installed: {module.INSTALL_HINT}")
    try:
        runner = module.open(content, entry, spec)
        shapes = getattr(runner, "input_shape", None), getattr(runner, "output_shape", None)
        if None not in shapes:  # a backend that cannot report its model's shapes skips this check
            check_io(entry["file"], spec, *shapes)
    except EdgeRNNError:
        raise
    except Exception as exc:  # the last net: e.g. a mangled name raising UnicodeDecodeError in introspection
        raise ModelLoadError(f"{entry['file']}: {name} cannot load it ({type(exc).__name__}: {exc}); "
                             "restore or re-export the bundle.") from None
    return runner


def open_step_backend(name: str, content: bytes, entry: dict[str, Any], inputs: list[str], outputs: list[str]):
    """Open a step model (named inputs and outputs, see runtime/stream.py) in backend `name`."""
    module = backend_module(name)
    if not module.available():
        raise BackendUnavailableError(f"backend {name!r} is not installed: {module.INSTALL_HINT}")
    if not hasattr(module, "open_step"):
        able = [n for n in REGISTRY if hasattr(backend_module(n), "open_step")]
        raise UnsupportedModelError(f"backend {name!r} cannot run step models; stream with one of {able}.")
    try:
        return module.open_step(content, entry, inputs, outputs)
    except EdgeRNNError:
        raise
    except Exception as exc:  # same last net as open_backend
        raise ModelLoadError(f"{entry['file']}: {name} cannot load the step model ({type(exc).__name__}: {exc}); "
                             "restore or re-export the bundle.") from None
