"""LiteRT backend: ai_edge_litert's interpreter (made from its C++ wrapper, litert_open.py), else tflite_runtime's.

An Interpreter is not thread-safe, so every call holds the backend's lock. Graphs with a free
batch dimension are resized when the batch changes; graphs fixed at batch 1 (the WHILE-loop form)
run row by row. A failed call rebuilds the interpreter so the next good call starts clean.
A file whose entry has `reset_variables` (TFLite's fused LSTM op keeps its h and c in variable
tensors, which persist between invokes) has them zeroed before every window, so each window
starts from the zero state as in Keras. Integer input/output tensors (full-int8 variants) are
quantized and dequantized here with each tensor's own scale and zero point, so callers pass and
get float32 in model units as for float32. Both take the slow path (no bound hot path).
"""

from __future__ import annotations

from _thread import allocate_lock  # threading.Lock, without importing threading (cold start)
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..manifest import ArtifactEntry, Spec
from .litert_open import (  # noqa: F401 - interpreter_module and vet: litert.* for tflm, export and tests
    BUSY_SECONDS,
    NAME,
    _busy,
    interpreter,
    interpreter_module,
    runtime_module,
    vet,
)


class LiteRTBackend:
    """A window model; every call holds the lock (an Interpreter is not thread-safe)."""

    name = NAME
    _fast = None  # the bound C++ methods of the hot path (see _bind)
    _hot = None  # the input shape the hot path takes (the interpreter's, while _fast is bound), else None
    _first_hot = None  # the first _hot bound (the file's own shape), reused as the same object (see _bind)
    _ports: tuple = ()  # several inputs: LiteRTInputsBackend (litert_inputs.py)
    busy_seconds = BUSY_SECONDS
    # Predictor.predict inlines run() for a float32 window of the bound shape (one Python frame less on
    # a ~2 us call, RESULTS.md "Hot path"): it reads _lock, _hot, _fast, _in, _out and calls wait,
    # run_held and _build, exactly as run() does. A subclass that changes run() sets this False.
    inline_run = True

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec) -> None:
        vet(content, entry.file)
        self._content, self._file = content, entry.file
        self._reset = entry.reset_variables
        self._dtypes = (np.int32,) if spec.tokens else (np.float32, np.int8, np.uint8)  # ids, or float (quantized)
        self._heads = len(spec.heads)  # several outputs: read them all, packed (runtime/outputs.py)
        self._outs: list[int] | None = None
        self._lock = allocate_lock()
        self._build()

    def _build(self) -> None:
        interp = interpreter(self._content, self._file)
        self.runtime_module = runtime_module(interp)  # which LiteRT ran it (benchmarks/clean_install.py checks)
        inputs, outputs = interp.get_input_details(), interp.get_output_details()
        count, kind = len(self._ports) or 1, "int32" if len(self._dtypes) == 1 else "float32 (or quantized int8)"
        if len(inputs) != count or not outputs or any(i["dtype"] not in self._dtypes for i in inputs):
            raise ModelLoadError(
                f"{self._file}: expected {count} {kind} input(s) and {self._heads or 1} output(s), the model has "
                f"{[str(i['dtype']) for i in inputs]} in, {len(outputs)} out; re-export the bundle."
            )
        inp, out = inputs[0], outputs[0]
        signature = inp.get("shape_signature", inp["shape"])
        self._interp = interp
        self._in, self._out = inp["index"], out["index"]
        self._quant_in = None if inp["dtype"] == np.int32 else _quantization(inp)  # token ids go in as they are
        self._quant_out = _quantization(out)
        if self._heads:  # before _bind: several outputs never take the one-output hot path
            from ..outputs import pack  # several outputs only: a one-output load never imports outputs.py

            self._outs, self._pack = _head_indices(interp, self._heads, self._file), pack
        self._bind(inp["shape"])
        self._dynamic_batch = int(signature[0]) == -1
        self._batch, self._steps = int(inp["shape"][0]), int(inp["shape"][1]) if len(inp["shape"]) > 1 else 0
        self._in_dtype = inp["dtype"]
        self.input_details, self.output_details = inp, out
        self.input_shape = list(signature)
        self.output_shape = list(out.get("shape_signature", out["shape"]))
        if self._outs:
            shapes = {d["index"]: d.get("shape_signature", d["shape"]) for d in outputs}
            self.output_shape = [-1, sum(int(np.prod(shapes[i][1:])) for i in self._outs)]

    def _bind(self, shape) -> None:
        """Hold the wrapper's C++ SetTensor/Invoke/GetTensor for the hot path, when this build has them.

        They skip a Python frame each and invoke()'s refcount probe, which guards numpy views made
        by tensor(); this backend never makes any. Each bound method holds a reference to the
        wrapper, which would trip that same probe in allocate_tensors(): _resize unbinds first.
        """
        if self._quant_in is not None or self._quant_out is not None or self._reset or self._outs:
            self._fast = self._hot = None  # the hot path passes floats straight through; these files need _once
            return
        native = getattr(self._interp, "_interpreter", None)
        names = ("SetTensor", "Invoke", "GetTensor")
        self._fast = tuple(getattr(native, m) for m in names) if all(hasattr(native, m) for m in names) else None
        # One tuple compare in run() then says both "bound" and "sized for this x" (RESULTS.md hot path).
        hot = None if self._fast is None else tuple(int(d) for d in shape)
        if self._first_hot is None:
            self._first_hot = hot
        # Back at the first shape: that very tuple, which Predictor.predict's inlined call tests by identity.
        self._hot = self._first_hot if hot is not None and hot == self._first_hot else hot

    def _resize(self, batch: int, steps: int) -> None:
        shape = [batch, steps, *self.input_details["shape"][2:]]  # steps changes only in a free-T model
        self._fast = self._hot = None
        self._interp.resize_tensor_input(self._in, shape)
        self._interp.allocate_tensors()
        self._batch, self._steps = batch, steps
        self._bind(shape)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self._batch or x.shape[1] != self._steps:
            self._resize(x.shape[0], x.shape[1])
        return self._once(x)

    def _once(self, x: np.ndarray) -> np.ndarray:
        if self._fast is not None:  # no locals: see run()
            self._fast[0](self._in, x)
            self._fast[1]()
            return self._fast[2](self._out)  # a copy: the caller may keep or modify it
        if self._quant_in is not None:
            x = _quantize(x, self._in_dtype, *self._quant_in)
        if self._reset:
            self._interp.reset_all_variables()
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        if self._outs:
            return self._pack([self._interp.get_tensor(i) for i in self._outs])
        y = self._interp.get_tensor(self._out)
        if self._quant_out is not None:
            scale, zero = self._quant_out
            y = ((y.astype(np.float32) - zero) * scale).astype(np.float32)
        return y

    def run(self, x: np.ndarray) -> np.ndarray:
        lock = self._lock
        # acquire/release in try/finally: half a with-block's cost; the untimed try first, as a timed
        # acquire parses its arguments (75 vs 135 ns uncontended).
        if not lock.acquire(False):
            self.wait()
        try:
            if x.shape == self._hot:  # hot path: bound, and the interpreter sized for x
                # Read through self, never into locals: a local outlives `finally`, and its reference
                # to the wrapper would trip the refcount probe of another thread's resize.
                self._fast[0](self._in, x)
                self._fast[1]()
                return self._fast[2](self._out)
            return self.run_held(x)
        except Exception:
            self._build()  # a failed resize or invoke can leave the interpreter unusable
            raise
        finally:
            lock.release()

    def run_held(self, x: np.ndarray) -> np.ndarray:
        """run() past its hot path, the lock held by the caller (run(), or the call Predictor.predict inlines)."""
        if self._dynamic_batch or x.shape[0] == self._batch:
            return self._invoke(x)
        return np.concatenate([self._invoke(x[i : i + 1]) for i in range(x.shape[0])])

    def wait(self) -> None:
        """Take the lock when another thread holds it: wait up to busy_seconds, then ModelRunError."""
        if not self._lock.acquire(True, self.busy_seconds):
            _busy(self._file, self.busy_seconds)


def _head_indices(interp, count: int, file: str) -> list[int]:
    """The tensor indices of signature outputs output_0 .. output_{count-1} (the manifest's head order)."""
    outputs = interp._get_full_signature_list().get("serving_default", {}).get("outputs", {})
    from ..outputs import file_output

    names = [file_output(i) for i in range(count)]
    if sorted(outputs) != sorted(names):
        raise ModelLoadError(
            f"{file}: expected signature outputs {names} (one per output in the manifest), the model has "
            f"{sorted(outputs)}; re-export the bundle."
        )
    return [int(outputs[n]) for n in names]


def _quantization(detail: dict[str, Any]) -> tuple[float, int] | None:
    """(scale, zero point) of an integer tensor; None for float tensors."""
    if not np.issubdtype(detail["dtype"], np.integer):
        return None
    scale, zero = detail["quantization"]
    if not scale:
        raise ModelLoadError(
            f"tensor {detail.get('name', '?')!r} is {np.dtype(detail['dtype']).name} without a quantization "
            "scale, so raw floats cannot be mapped to it; re-export the variant."
        )
    return float(scale), int(zero)


def _quantize(x: np.ndarray, dtype, scale: float, zero: int) -> np.ndarray:
    """Float model units -> the tensor's integer type, saturating at its range as TFLite does."""
    info = np.iinfo(dtype)
    return np.clip(np.rint(x / scale + zero), info.min, info.max).astype(dtype)


def open(content: bytes, entry: ArtifactEntry, spec: Spec) -> LiteRTBackend:  # noqa: A001 - registry API
    if spec.inputs:  # several inputs: their own class, chosen here once (the one-input hot path untouched)
        from .litert_inputs import SeveralInputs

        return type("LiteRTInputsBackend", (SeveralInputs, LiteRTBackend), {})(content, entry, spec)
    return LiteRTBackend(content, entry, spec)


def open_step(content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]):
    """Open a step model whose tensors are named `inputs` and `outputs` in its signature (litert_step.py:
    a window-only load never imports it)."""
    from .litert_step import LiteRTStepBackend

    return LiteRTStepBackend(content, entry, inputs, outputs)
