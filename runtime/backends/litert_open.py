"""Opening a .tflite for LiteRT, shared by the window and the step runners: vet it, make its interpreter.

`interpreter` makes ai_edge_litert's interpreter from its C++ wrapper, without importing
`ai_edge_litert.interpreter`: that module's import (its Python body, metrics, enum) and
`Interpreter.__init__`'s signature listing were ~0.7 ms of a LiteRT load against a bare interpreter
that takes ~5 ms in all (cold start, benchmarks/cold_start.py). `NativeInterpreter` makes the wrapper
exactly as `Interpreter(model_content=..., num_threads=n)` does (the builtin op resolver, which applies
the XNNPACK delegate by default; no custom ops, no delegates) and has the methods of Interpreter the
window runner calls, each the same wrapper call Interpreter makes. It skips Interpreter's refcount
probe before allocate and invoke, which guards numpy views made by `tensor()`: none are made here.
When this ai_edge_litert has no such wrapper (or another signature for it), and for tflite_runtime,
the public Interpreter is used; step models always use it (its SignatureRunner names their tensors).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .. import optional
from ..errors import EdgeRNNError, ModelLoadError, ModelRunError
from ..vet.tflite_graph import check_graph
from . import REGISTRY

NAME = "litert"
# How long a call waits for the interpreter another thread is running. LiteRT cannot cancel an invoke
# (its Python Interpreter has no cancellation call; only the C API's CompiledModel has one), so a model
# that hangs holds the lock for good: the other threads then get a ModelRunError instead of waiting forever.
# One call holds the lock for at most MAX_CHUNK (4096) windows: milliseconds for these models.
BUSY_SECONDS = 60.0
_MODULES = tuple(f"{m}.interpreter" for m in REGISTRY[NAME].requires)  # the maintained one first


WRAPPER = "ai_edge_litert._pywrap_litert_interpreter_wrapper"
BUILTIN_RESOLVER = 1  # interpreter.py _get_op_resolver_id: OpResolverType.AUTO and BUILTIN
# The overload of CreateWrapperFromBuffer (ai_edge_litert 2.3) whose arguments `create` passes, by type.
_SIGNATURE = (
    "CreateWrapperFromBuffer(arg0: bytes, arg1: int, arg2: list[str], arg3: list[Callable[[int], None]], "
    "arg4: bool, arg5: bool, arg6: int, arg7: bool, arg8: bool, arg9: bool, arg10: bool)"
)


class NativeInterpreter:
    """The part of ai_edge_litert's Interpreter that LiteRTBackend uses, on the wrapper itself."""

    def __init__(self, wrapper: Any, content: bytes) -> None:
        self._model_content = content  # the wrapper points into these bytes: keep them alive with it
        self._interpreter = wrapper

    def __del__(self) -> None:
        self._interpreter = None  # the wrapper goes before the bytes it points into (as Interpreter.__del__)

    def allocate_tensors(self) -> None:
        self._interpreter.AllocateTensors()

    def _details(self, index: int) -> dict[str, Any]:
        """Interpreter._get_tensor_details for subgraph 0: the same keys from the same wrapper calls."""
        native = self._interpreter
        scales, zeros, axis, *block = native.TensorQuantizationParameters(index, 0)  # older wrappers: no block size
        dtype = native.TensorType(index, 0)
        if not dtype:
            raise ValueError("Could not get tensor details")
        return {
            "name": native.TensorName(index, 0),
            "index": index,
            "shape": native.TensorSize(index, 0),
            "shape_signature": native.TensorSizeSignature(index, 0),
            "dtype": dtype,
            "quantization": native.TensorQuantization(index, 0),
            "quantization_parameters": {
                "scales": scales,
                "zero_points": zeros,
                "quantized_dimension": axis,
                "block_size": block[0] if block else 0,
            },
            "sparsity_parameters": native.TensorSparsityParameters(index, 0),
        }

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self._interpreter.InputIndices()]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self._interpreter.OutputIndices()]

    def _get_full_signature_list(self) -> dict[str, Any]:
        return self._interpreter.GetSignatureDefs()

    def resize_tensor_input(self, index: int, shape: Any, strict: bool = False) -> None:
        self._interpreter.ResizeInputTensor(index, np.array(shape, dtype=np.int32), strict)

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self._interpreter.SetTensor(index, value)

    def invoke(self) -> None:
        self._interpreter.Invoke()

    def get_tensor(self, index: int, subgraph: int = 0) -> np.ndarray:
        return self._interpreter.GetTensor(index, subgraph)

    def reset_all_variables(self) -> None:
        self._interpreter.ResetVariableTensors()


def create(module: Any, content: bytes, threads: int) -> NativeInterpreter | None:
    """A NativeInterpreter on `content` from the wrapper `module`; None when its wrapper differs from the one
    this was written against (then use the public Interpreter). ValueError when the file does not load."""
    make = getattr(module, "CreateWrapperFromBuffer", None)
    if make is None or _SIGNATURE not in (make.__doc__ or ""):  # another ai_edge_litert: its own Interpreter
        return None
    try:  # the arguments of Interpreter.__init__'s call: resolver, no custom ops, then its eight options
        wrapper = make(content, BUILTIN_RESOLVER, [], [], False, False, threads, False, False, False, False)
    except TypeError:  # pybind11's "incompatible function arguments": another ai_edge_litert
        return None
    wrapper.GetSignatureDefs()  # as Interpreter.__init__ does: a signature name that is not UTF-8 fails here
    return NativeInterpreter(wrapper, content)


def interpreter_module():
    """ai_edge_litert's interpreter module, else tflite_runtime's (MissingExtraError naming both)."""
    for name in _MODULES:
        if optional.available(name):
            return optional.require(name, "the litert backend")
    raise optional.missing(_MODULES[0], "the litert backend (or 'edgernn[tflite-runtime]' on Python < 3.12)")


def vet(content: bytes, file: str) -> None:
    """Refuse Flex/custom ops and malformed graphs before the interpreter parses the file: one walk
    (vet/tflite_graph.py) for the indices and op counts the interpreter trusts blindly."""
    check_graph(content, file)


def interpreter(content: bytes, file: str, *, native: bool = True):
    """A one-thread interpreter on vetted bytes, tensors allocated (ModelLoadError if it cannot load): made from
    ai_edge_litert's C++ wrapper when `native` and this install has the one NativeInterpreter knows (cold
    start), else the public Interpreter of `interpreter_module()`."""
    wrapper = _wrapper_module() if native else None
    module = None if wrapper is not None else interpreter_module()  # MissingExtraError, outside the try
    try:
        interp = create(wrapper, content, 1) if wrapper is not None else None
        if interp is None:  # no wrapper, or one of another signature: the public Interpreter
            interp = (module or interpreter_module()).Interpreter(model_content=content, num_threads=1)
        interp.allocate_tensors()
        return interp
    except EdgeRNNError:
        raise
    except Exception as exc:  # ValueError/RuntimeError on bad files, UnicodeDecodeError on bad names
        raise ModelLoadError(f"{file}: LiteRT cannot load it ({type(exc).__name__}: {exc})") from None


def _wrapper_module():
    """ai_edge_litert's interpreter wrapper module, when ai_edge_litert is installed and has it (else None).

    Imported without asking `optional.available` first: that probe walks sys.path once more for a module
    the import then finds again (~50 us of cold start); absent or blocked, the import fails the same way."""
    try:
        return importlib.import_module(WRAPPER)
    except ImportError:  # ModuleNotFoundError too: ai_edge_litert absent, blocked, or without this wrapper
        return None


def runtime_module(interp) -> str:
    """The module that made `interp`: ai_edge_litert's wrapper, or an interpreter module's Interpreter."""
    return WRAPPER if isinstance(interp, NativeInterpreter) else type(interp).__module__


def _busy(file: str, seconds: float) -> None:
    raise ModelRunError(
        f"{file}: another call has held this LiteRT interpreter for more than {seconds:g} s (a model that "
        "hangs?) and LiteRT cannot stop it; this call gave up. Run 'edgernn validate --isolate' on the bundle, "
        "or load untrusted bundles with isolate=True."
    )
