"""The numpy backend's layer graph: every kernel family's registry, and the wiring between layers.

A spec's `layers` list is in topological order. Each record may name its `inputs` (indices of earlier
records; -1 is the model input); without them a record takes the previous one's output, as every
version-1 spec (a chain) does. Merge layers take the list of their inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import numpy_conv, numpy_norm, numpy_shape
from .errors import ModelLoadError, UnsupportedModelError
from .inputs import Port, split
from .numpy_layers import LAYERS as RECURRENT_AND_DENSE
from .numpy_layers import Recurrent, Weights
from .outputs import pack

LAYERS: dict[str, Any] = {**RECURRENT_AND_DENSE, **numpy_conv.LAYERS, **numpy_norm.LAYERS, **numpy_shape.LAYERS}
INPUT = -1


class Graph:
    """The layers of a spec, each checked against its arrays and its input shapes, run in order."""

    def __init__(
        self, records: list, weights: Weights, shape: tuple, file: str, outputs: Any = None, inputs: Any = None
    ) -> None:
        self.layers: list[Any] = []
        self.inputs: list[list[int]] = []
        # Several model inputs (`inputs`: their shapes): input k is index -1 - k, fed from the packed array.
        self.ports = tuple(Port(f"input {k}", tuple(s)) for k, s in enumerate(inputs or ()))
        shapes = {INPUT - k: p.shape for k, p in enumerate(self.ports)} if self.ports else {INPUT: tuple(shape)}
        first = min(shapes)
        for i, rec in enumerate(records):
            where = f"{file} layer {i}"
            kind = rec.get("kind") if isinstance(rec, dict) else None
            if kind not in LAYERS:
                raise UnsupportedModelError(f"{where}: layer kind {kind!r}; the numpy backend runs {sorted(LAYERS)}.")
            ins = rec.get("inputs", [i - 1])
            if not isinstance(ins, list) or not ins or not all(type(j) is int and first <= j < i for j in ins):
                raise ModelLoadError(f"{where}: inputs {ins!r}; expected indices of earlier layers (-1: the input).")
            cls = LAYERS[kind]
            if getattr(cls, "merge", False):
                layer = cls(rec, [shapes[j] for j in ins], weights, where)
            elif len(ins) == 1:
                layer = cls(rec, shapes[ins[0]], weights, where)
            elif rec.get("initial_state") and cls is Recurrent:  # x, then its initial states (h, and c for LSTM)
                layer = cls(rec, shapes[ins[0]], weights, where)
                if [shapes[j] for j in ins[1:]] != [(w,) for w in layer.state_widths]:
                    raise ModelLoadError(
                        f"{where}: initial states {[shapes[j] for j in ins[1:]]}; expected "
                        f"{[(w,) for w in layer.state_widths]}."
                    )
            else:
                raise ModelLoadError(f"{where}: a {kind} layer takes one input, the spec names {ins}.")
            self.layers.append(layer)
            self.inputs.append(ins)
            shapes[i] = tuple(layer.out_shape)
        self.out_shape = shapes[len(records) - 1]
        self.chain = not self.ports and all(ins == [i - 1] for i, ins in enumerate(self.inputs))
        self.heads: list[int] | None = None  # several outputs: these layers' outputs, packed (runtime/outputs.py)
        if outputs is not None:
            if not (
                isinstance(outputs, list)
                and len(outputs) > 1
                and all(type(j) is int and 0 <= j < len(records) for j in outputs)
            ):
                raise ModelLoadError(f"{file}: outputs {outputs!r}; expected indices of 2 or more layers.")
            self.heads, self.chain = outputs, False
            self.out_shape = (sum(math.prod(d or 1 for d in shapes[j]) for j in outputs),)
        self.masked = any(getattr(layer, "makes_mask", False) for layer in self.layers)
        if self.masked and not self.chain:
            raise UnsupportedModelError(
                f"{file}: a mask (Masking, mask_zero) in a graph with merges is not implemented."
            )

    def _masked_chain(self, x: np.ndarray) -> np.ndarray:
        """Keras's mask propagation: Masking (or a mask_zero Embedding) makes it, recurrent layers take it,
        a layer without a time axis in its output drops it, the others pass it on."""
        mask = None
        for layer in self.layers:
            if getattr(layer, "makes_mask", False):
                x, mask = layer.masked(x)
            else:
                x = layer(x, mask) if mask is not None and getattr(layer, "takes_mask", False) else layer(x)
                mask = mask if len(layer.out_shape) == 2 else None
        return x

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.masked:
            return self._masked_chain(x)
        if self.chain:  # the common case: no bookkeeping
            for layer in self.layers:
                x = layer(x)
            return x
        values = {INPUT - k: part for k, part in enumerate(split(x, self.ports))} if self.ports else {INPUT: x}
        for i, (layer, ins) in enumerate(zip(self.layers, self.inputs)):
            args = [values[j] for j in ins]
            if getattr(layer, "merge", False):
                values[i] = layer(args)
            else:  # a recurrent layer called with initial_state= takes its states after x
                values[i] = layer(args[0], None, args[1:]) if len(args) > 1 else layer(args[0])
        if self.heads is not None:
            return pack([values[j] for j in self.heads])
        return values[len(self.layers) - 1]
