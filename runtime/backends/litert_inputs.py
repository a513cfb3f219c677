"""LiteRT with several inputs: the packed array (runtime/inputs.py) split into the signature's inputs.

A mixin that litert.open puts in front of LiteRTBackend, once, for a bundle with `input.inputs`, so the
one-input LiteRTBackend keeps its bound hot path (and this module never imports litert: no cycle). The
signature inputs carry the Keras input names; each is set by its tensor index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..inputs import file_inputs, split
from ..manifest import ArtifactEntry, Spec
from ..outputs import pack


class SeveralInputs:
    """LiteRTBackend's build and invoke for a window model with several float32 inputs (every call holds the
    backend's lock, as for one input)."""

    _interp: Any
    _file: str
    _batch: int
    _dynamic_batch: bool
    _reset: bool
    _outs: list[int] | None
    _out: int
    _quant_in: Any
    _quant_out: Any

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec) -> None:
        self._ports, self._width = spec.inputs, spec.features
        super().__init__(content, entry, spec)

    def _bind(self, shape=None) -> None:
        self._fast = self._hot = None  # several tensors to set: _invoke sets each

    def _build(self) -> None:
        super()._build()
        if self._quant_in is not None or self._quant_out is not None:  # _invoke maps no integer tensors
            raise ModelLoadError(
                f"{self._file}: an integer input or output in a several-input file; edgernn writes several "
                "inputs in float32 only (quantized variants of them are refused at export). Re-export the bundle."
            )
        signature = self._interp._get_full_signature_list().get("serving_default", {}).get("inputs", {})
        self._feeds = [int(signature[n]) for n in file_inputs(list(signature), self._ports, self._file)]
        self.input_shape = [-1 if self._dynamic_batch else self._batch, self._width]

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        interp = self._interp
        if len(x) != self._batch:
            for index, port in zip(self._feeds, self._ports):
                interp.resize_tensor_input(index, [len(x), *port.shape])
            interp.allocate_tensors()
            self._batch = len(x)
        for index, value in zip(self._feeds, split(x, self._ports)):
            interp.set_tensor(index, value)
        if self._reset:
            interp.reset_all_variables()
        interp.invoke()
        if self._outs:
            return pack([interp.get_tensor(i) for i in self._outs])
        return interp.get_tensor(self._out)
