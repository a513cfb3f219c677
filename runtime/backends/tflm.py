"""TFLM backend: TensorFlow Lite Micro's interpreter (the tflite-micro package, reference kernels).

It runs the `tflm` and `tflm-int8` variants of the TFLite artifact only (batch 1, builtin ops TFLM
registers; tflm-int8's int8 input and output are quantized and dequantized here with the tensors'
own scale and zero point, as the LiteRT backend does), in the arena the manifest records
(`arena_bytes`: the smallest that passed at export, plus headroom). Variable tensors (a fused
LSTM's h and c) persist between invokes in TFLM, so the interpreter is reset before every window:
each window starts from the zero state, as in Keras. One window per
invoke; not thread-safe, so calls hold the backend's lock.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import optional
from ..errors import ModelLoadError
from ..manifest import ArtifactEntry, Spec
from .litert import _quantization, _quantize, vet

NAME = "tflm"
MAX_ARENA = 64 << 20


def runtime_module():
    return optional.require("tflite_micro.python.tflite_micro.runtime", "the tflm backend")


def quantizer(details: dict, file: str = "the TFLM file"):
    """(to_tensor, from_tensor) for a TFLM input/output tensor: identity for float32, the affine map of
    its scale and zero point for an integer tensor (an int8 file's input and output), as LiteRT's
    backend maps them (litert._quantization / _quantize: the same check, rounding and saturation)."""
    dtype = np.dtype(details["dtype"])
    if dtype.kind == "f":
        return (lambda x: np.asarray(x, dtype)), (lambda y: np.asarray(y, np.float32))
    params = details.get("quantization_parameters") or {}
    scales, zeros = list(params.get("scales", ())), list(params.get("zero_points", ()))
    pair = (float(scales[0]) if scales else 0.0, int(zeros[0]) if zeros else 0)
    quant = _quantization({"dtype": dtype, "name": details.get("name", "?"), "quantization": pair})
    if quant is None:  # neither float nor integer (a bool tensor): nothing to map raw floats to
        raise ModelLoadError(f"{file}: tensor {details.get('name', '?')!r} is {dtype.name}; re-export the variant.")
    scale, zero = quant

    def to_tensor(x):
        return _quantize(np.asarray(x, np.float32), dtype, scale, zero)

    return to_tensor, (lambda y: ((np.asarray(y).astype(np.float32) - zero) * scale).astype(np.float32))


def arena_of(entry: ArtifactEntry) -> int:
    arena = entry.extra.get("arena_bytes")
    if not isinstance(arena, int) or isinstance(arena, bool) or not 0 < arena <= MAX_ARENA:
        raise ModelLoadError(
            f"{entry.file}: the manifest records no usable TFLM arena size ('arena_bytes'); re-export."
        )
    return arena


class TflmBackend:
    name = NAME

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec) -> None:
        vet(content, entry.file)
        module = runtime_module()
        try:
            self.interp = module.Interpreter.from_bytes(content, arena_size=arena_of(entry))
            details_in, details_out = self.interp.get_input_details(0), self.interp.get_output_details(0)
            self.to_input, _ = quantizer(details_in, entry.file)
            _, self.from_output = quantizer(details_out, entry.file)
        except ModelLoadError:
            raise
        except Exception as exc:  # RuntimeError: an op TFLM lacks, or the arena is too small
            raise ModelLoadError(f"{entry.file}: TFLM cannot load it ({type(exc).__name__}: {exc})") from None
        self.input_shape = [None, *list(details_in["shape"])[1:]]  # batch 1: run row by row
        self.output_shape = [None, *list(details_out["shape"])[1:]]
        self.lock = threading.Lock()

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = []
        with self.lock:
            for row in x:
                self.interp.reset()  # variable tensors back to zero: every window from the zero state
                self.interp.set_input(self.to_input(row[None]), 0)
                self.interp.invoke()
                out.append(self.from_output(self.interp.get_output(0))[0])
        return np.stack(out) if out else np.zeros((0, *self.output_shape[1:]), np.float32)


def open(content: bytes, entry: ArtifactEntry, spec: Spec) -> TflmBackend:  # noqa: A001 - registry API
    return TflmBackend(content, entry, spec)
