"""ai_edge_litert's interpreter made from its C++ wrapper, without importing `ai_edge_litert.interpreter`.

That module's import (its Python body, metrics, enum) and `Interpreter.__init__`'s signature listing
were ~0.7 ms of a LiteRT load against a bare interpreter that takes ~5 ms in all (cold start,
benchmarks/cold_start.py). `NativeInterpreter` makes the wrapper exactly as
`Interpreter(model_content=..., num_threads=n)` does (the builtin op resolver, which applies the
XNNPACK delegate by default; no custom ops, no delegates) and has the methods of Interpreter the
window backend calls, each the same wrapper call Interpreter makes. It skips Interpreter's refcount
probe before allocate and invoke, which guards numpy views made by `tensor()`: none are made here.

`create` returns None when this ai_edge_litert has no such wrapper (or another signature for it):
the caller then uses the public Interpreter. Step models keep the public Interpreter (its
SignatureRunner), as does tflite_runtime.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WRAPPER = "ai_edge_litert._pywrap_litert_interpreter_wrapper"
BUILTIN_RESOLVER = 1  # interpreter.py _get_op_resolver_id: OpResolverType.AUTO and BUILTIN


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
        scales, zeros, axis, block = native.TensorQuantizationParameters(index, 0)
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
                "block_size": block,
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
    if make is None:
        return None
    try:  # the arguments of Interpreter.__init__'s call: resolver, no custom ops, then its eight options
        wrapper = make(content, BUILTIN_RESOLVER, [], [], False, False, threads, False, False, False, False)
    except TypeError:  # pybind11's "incompatible function arguments": another ai_edge_litert
        return None
    return NativeInterpreter(wrapper, content)
