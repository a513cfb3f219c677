"""LiteRT backend: ai_edge_litert's Interpreter, else tflite_runtime's.

An Interpreter is not thread-safe, so every call holds the backend's lock. Graphs with a free
batch dimension are resized when the batch changes; graphs fixed at batch 1 (the WHILE-loop form)
run row by row. A failed call rebuilds the interpreter so the next good call starts clean.
"""
from __future__ import annotations

import importlib
import importlib.util
import threading
from typing import Any

import numpy as np

from ..errors import ModelLoadError, UnsupportedModelError
from ..manifest import Spec
from ..tflite_graph import check_graph
from ..tflite_ops import custom_ops

NAME = "litert"
FORMATS = ("tflite",)
INSTALL_HINT = "pip install 'edgernn[litert]' (or 'edgernn[tflite-runtime]' on Python < 3.12)"
_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")


def _interpreter_module():
    for name in _MODULES:
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            return importlib.import_module(name)
    return None


def available() -> bool:
    return any(importlib.util.find_spec(name.split(".")[0]) is not None for name in _MODULES)


class LiteRTBackend:
    name = NAME
    thread_safe = True  # made so by the lock

    def __init__(self, content: bytes, entry: dict[str, Any], spec: Spec) -> None:
        found = custom_ops(content, entry["file"])
        if found:
            raise UnsupportedModelError(
                f"{entry['file']}: uses custom or Flex ops {sorted(set(found))}, which standalone "
                "interpreters cannot run; re-export with builtin ops only."
            )
        check_graph(content, entry["file"])  # indices and op counts the interpreter trusts blindly
        self._content, self._file = content, entry["file"]
        self._lock = threading.Lock()
        self.runtime_module = _interpreter_module().__name__
        self._build()

    def _build(self) -> None:
        module = _interpreter_module()
        try:
            interp = module.Interpreter(model_content=self._content, num_threads=1)
            interp.allocate_tensors()
            inputs, outputs = interp.get_input_details(), interp.get_output_details()
        except Exception as exc:  # ValueError/RuntimeError on bad files, UnicodeDecodeError on bad names
            raise ModelLoadError(f"{self._file}: LiteRT cannot load it ({type(exc).__name__}: {exc})") from None
        if len(inputs) != 1 or not outputs or inputs[0]["dtype"] != np.float32:
            raise ModelLoadError(f"{self._file}: expected 1 float32 input and 1 output, the model has "
                                 f"{[str(i['dtype']) for i in inputs]} in, {len(outputs)} out; re-export the bundle.")
        inp, out = inputs[0], outputs[0]
        signature = inp.get("shape_signature", inp["shape"])
        self._interp = interp
        self._in, self._out = inp["index"], out["index"]
        self._dynamic_batch = int(signature[0]) == -1
        self._batch = int(inp["shape"][0])
        self._in_dtype = inp["dtype"]
        self.input_details, self.output_details = inp, out
        self.input_shape = list(signature)
        self.output_shape = list(out.get("shape_signature", out["shape"]))

    def _resize(self, batch: int) -> None:
        shape = [batch, *self.input_details["shape"][1:]]
        self._interp.resize_tensor_input(self._in, shape)
        self._interp.allocate_tensors()
        self._batch = batch

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self._batch:
            self._resize(x.shape[0])
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._out)

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            try:
                if self._dynamic_batch or x.shape[0] == self._batch:
                    return self._invoke(x)
                return np.concatenate([self._invoke(x[i : i + 1]) for i in range(x.shape[0])])
            except Exception:
                self._build()  # a failed resize or invoke can leave the interpreter unusable
                raise


def open(content: bytes, entry: dict[str, Any], spec: Spec) -> LiteRTBackend:  # noqa: A001 - registry API
    return LiteRTBackend(content, entry, spec)
