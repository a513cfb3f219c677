"""Runtime backends: one module per runtime, one registry line each.

A backend module exposes `NAME`, `open(content, entry, spec) -> WindowRunner` and, for streaming,
`open_step(content, entry, inputs, outputs) -> StepRunner`. The registry below says which artifact
formats each one runs and which optional modules make it available (`available(name)` asks
`optional`, importing nothing); modules are imported only when asked for, so a device with one
runtime installed never touches the others.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import optional
from ..errors import (
    BackendUnavailableError,
    EdgeRNNError,
    InputError,
    ManifestError,
    ModelLoadError,
    UnsupportedModelError,
)
from ..frozen import named_tuple
from ..manifest import ArtifactEntry, Spec

if TYPE_CHECKING:  # annotations only; typing's Protocol classes cost ~50 us of cold start to define
    from typing import Protocol

    from ..manifest import Manifest

    class WindowRunner(Protocol):
        """A window model loaded in one runtime: float32 (batch, timesteps, features) model units in and out."""

        name: str
        input_shape: list  # the model's own shapes, free dims as -1/None/a name: checked against the manifest
        output_shape: list

        def run(self, x: np.ndarray) -> np.ndarray: ...

    class StepRunner(Protocol):
        """A step model loaded in one runtime: (x_t, *states) -> [y_t, *next states], float32 (batch, width)."""

        name: str
        step_widths: tuple[list, list]  # last-axis widths of the inputs and outputs (None where free)

        def run_step(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]: ...


@named_tuple  # a NamedTuple-like row, defined without exec (cold start, frozen.py)
class Registered:
    """A registry row."""

    module: str
    formats: tuple[str, ...]  # artifact formats it runs
    requires: tuple[str, ...]  # optional modules, any one of which makes it available
    tools: tuple[str, ...] = ()  # executables, any one of which must be on PATH ($CC counts for "cc")
    variants: tuple[str, ...] = ()  # the only artifact variants it runs (empty: every variant of its formats)
    # (variant, module): that variant runs only with that one of `requires` (another gives wrong answers)
    variant_needs: tuple[tuple[str, str], ...] = ()


# In the order `auto` prefers them: fastest batch-1 first, as measured by
# benchmarks/backend_latency.py (README "Backends", benchmarks/RESULTS-install.md).
REGISTRY: dict[str, Registered] = {
    # ai-edge-quantizer's dynamic files run wrong on tflite-runtime 2.14's hybrid kernels (seed-lstm:
    # max error 0.24 against a 0.0022 tolerance, found by make check-install), right on ai-edge-litert;
    # the hand-built unrolled_lean dynamic file (FULLY_CONNECTED version 12) does not load on 2.14 at all.
    "litert": Registered(
        "edgernn.runtime.backends.litert",
        ("tflite",),
        ("ai_edge_litert", "tflite_runtime"),
        variant_needs=(("dynamic", "ai_edge_litert"),),
    ),
    "onnxruntime": Registered("edgernn.runtime.backends.ort", ("onnx",), ("onnxruntime",)),
    "numpy": Registered("edgernn.runtime.backends.numpy_ref", ("numpy",), ()),
    # Last: it compiles model.c on load (about 0.1-1 s), so `auto` takes it only for a C-only bundle.
    "c": Registered("edgernn.runtime.backends.c", ("c",), (), ("cc", "gcc", "clang")),
    # TFLM runs only the batch-1 graphs written for it (the tflm variants), on its reference kernels.
    "tflm": Registered("edgernn.runtime.backends.tflm", ("tflite",), ("tflite_micro",), variants=("tflm", "tflm-int8")),
}


def _registered(name: str) -> Registered:
    if name not in REGISTRY:
        raise InputError(f"unknown backend {name!r}; expected one of {sorted(REGISTRY)} or 'auto'.")
    return REGISTRY[name]


def backend_module(name: str) -> ModuleType:
    """The module of a registered backend, or InputError listing the known names."""
    return importlib.import_module(_registered(name).module)


def available(name: str) -> bool:
    """Whether backend `name`'s runtime package is importable here (nothing is imported to find out)."""
    row = _registered(name)
    if row.tools and not _tool_found(row.tools):
        return False
    return not row.requires or any(optional.available(m) for m in row.requires)


def _tool_found(tools: tuple[str, ...]) -> bool:
    import shutil  # imports bz2 and lzma: a millisecond of cold start that only the c backend's check needs

    return bool(os.environ.get("CC") and shutil.which(os.environ["CC"])) or any(map(shutil.which, tools))


def install_hint(name: str) -> str:
    row = _registered(name)
    if row.tools:
        return f"it needs a C compiler on PATH ({', '.join(row.tools)} or $CC), e.g. apt-get install gcc"
    return " or ".join(optional.hint(m) for m in row.requires) if row.requires else "it needs only numpy"


def installed() -> list[str]:
    """Registered backends whose runtime package is importable here, in `auto` order."""
    return [name for name in REGISTRY if available(name)]


def formats_of(name: str) -> tuple[str, ...]:
    return _registered(name).formats


def runs(name: str, artifact: ArtifactEntry) -> bool:
    """Whether backend `name` runs this artifact: its format, and its variant when the backend is restricted."""
    return artifact.format in _registered(name).formats and runs_variant(name, artifact.variant)


def installed_for(manifest: Manifest, variant: str = "float32") -> list[str]:
    """Installed backends (auto order) that run one of the bundle's `variant` window models (a C compiler
    makes `c` installed, yet most bundles hold no model.c)."""
    entries = manifest.artifacts(role="model", variant=variant)
    return [name for name in installed() if any(runs(name, e) for e in entries)]


def runs_variant(name: str, variant: str) -> bool:
    row = _registered(name)
    return (not row.variants or variant in row.variants) and not unmet_need(name, variant)


def unmet_need(name: str, variant: str) -> str:
    """The module backend `name` needs for `variant` and lacks here ('' when none): see variant_needs."""
    needs = dict(_registered(name).variant_needs).get(variant)
    return needs if needs and not optional.available(needs) else ""


def backends_for(fmt: str) -> tuple[str, ...]:
    """The registered backends that run artifact format `fmt` (what export proves a file in)."""
    return tuple(name for name, reg in REGISTRY.items() if fmt in reg.formats)


# Measured exceptions to the registry order at batch 1 (README "Backends"; benchmarks/backend_latency.py):
LONG_LSTM_STEPS = 32  # from here onnxruntime's fused LSTM op beats LiteRT's unrolled graph (RESULTS-auto.md)


def auto_order(manifest: Manifest, names: Sequence[str] | None = None) -> list[str]:
    """Installed backends (or `names`), fastest first for this bundle: the registry order, except that
    onnxruntime goes before litert for an ONNX LSTM op (tf2onnx's fused form, or the native form of an
    LSTM-only model: the same op) of LONG_LSTM_STEPS steps or more, and numpy before onnxruntime for
    SimpleRNN-only models whose ONNX file is tf2onnx's graph (14 vs 17 us on the seed, 80 vs 83 us at
    64x32; the native RNN op runs the seed in 4.8 us, benchmarks/RESULTS.md, so it keeps its place)."""
    order = list(installed() if names is None else names)

    def put_before(first: str, second: str) -> None:
        if first in order and second in order and order.index(first) > order.index(second):
            order.remove(first)
            order.insert(order.index(second), first)

    forms = {a.graph_form for a in manifest.artifacts(formats=("onnx",))}
    cells = manifest.model.cells
    lstm_op = "fused" in forms or ("native" in forms and bool(cells) and all(c == "lstm" for c in cells))
    if lstm_op and manifest.spec.timesteps >= LONG_LSTM_STEPS:
        put_before("onnxruntime", "litert")
    if cells and all(c == "simple_rnn" for c in cells) and "native" not in forms:
        put_before("numpy", "onnxruntime")
    return order


def _usable(name: str) -> ModuleType:
    module = backend_module(name)
    if not available(name):
        raise BackendUnavailableError(f"backend {name!r} is not installed: {install_hint(name)}")
    return module


def intra_op_threads(name: str) -> bool:
    """Whether backend `name` runs threads=N on its runtime's own thread pool (else: runtime/parallel.py)."""
    return bool(getattr(backend_module(name), "INTRA_OP_THREADS", False))


def open_window(name: str, content: bytes, entry: ArtifactEntry, spec: Spec, threads: int = 1) -> WindowRunner:
    """Open `content` (the checked bytes of the window artifact `entry`) in backend `name`; `threads`
    only for a backend with intra_op_threads (the others are given 1 and split by runtime/parallel.py).

    Raises:
        BackendUnavailableError, ModelLoadError, UnsupportedModelError, ManifestError (shapes disagree).
    """
    module = _usable(name)
    try:
        runner = (
            module.open(content, entry, spec, threads=threads) if threads > 1 else module.open(content, entry, spec)
        )
        check_io(entry.file, spec, runner.input_shape, runner.output_shape)
    except EdgeRNNError:
        raise
    except Exception as exc:  # the last net: e.g. a mangled name raising UnicodeDecodeError in introspection
        raise ModelLoadError(
            f"{entry.file}: {name} cannot load it ({type(exc).__name__}: {exc}); restore or re-export the bundle."
        ) from None
    return runner


def open_step(name: str, content: bytes, entry: ArtifactEntry, inputs: list[str], outputs: list[str]) -> StepRunner:
    """Open a step model (named inputs and outputs, see runtime/stream.py) in backend `name`."""
    module = _usable(name)
    if not hasattr(module, "open_step"):
        able = [n for n in REGISTRY if hasattr(backend_module(n), "open_step")]
        raise UnsupportedModelError(f"backend {name!r} cannot run step models; stream with one of {able}.")
    try:
        return module.open_step(content, entry, inputs, outputs)
    except EdgeRNNError:
        raise
    except Exception as exc:  # same last net as open_window
        raise ModelLoadError(
            f"{entry.file}: {name} cannot load the step model ({type(exc).__name__}: {exc}); "
            "restore or re-export the bundle."
        ) from None


def _dims(shape: Sequence[Any]) -> list[int | None]:
    """Dimensions as ints, None where the model leaves one free (-1, None, a symbolic name)."""
    out: list[int | None] = []
    for dim in shape:
        try:
            value = int(dim)
        except (TypeError, ValueError):
            value = -1
        out.append(value if value >= 0 else None)
    return out


def check_io(file: str, spec: Spec, input_shape: Sequence[Any], output_shape: Sequence[Any]) -> None:
    """Check the model's own input and output shapes against the manifest's spec.

    Free dimensions in the model (the batch, a symbolic name) match anything; fixed ones must agree.

    Raises:
        ManifestError: the rank or a fixed dimension differs from the manifest.
    """
    want_in = [None, *spec.input_tail]
    want_out = [None, spec.out_steps, spec.outputs] if spec.sequence_output else [None, spec.outputs]  # heads: packed
    for what, got, want in (("input", _dims(input_shape), want_in), ("output", _dims(output_shape), want_out)):
        same_rank = len(got) == len(want)
        if not same_rank or any(g is not None and w is not None and g != w for g, w in zip(got[1:], want[1:])):
            raise ManifestError(
                f"{file}: the model's {what} shape is {list(input_shape if what == 'input' else output_shape)}, "
                f"but the manifest says (batch, {', '.join(str(w) for w in want[1:])}); the manifest and the model "
                "file disagree. Re-export the bundle."
            )
