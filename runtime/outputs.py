"""Several outputs (return_state, Bidirectional(merge_mode=None), multi-task heads): named heads.

Inside edgernn a model with several outputs returns them *packed*: each head flattened per row and
concatenated in the Keras model's output order, one float32 (batch, total) array. So the proof, the
golden vectors, validate and every backend's shape check handle one array that covers every output,
and `MultiPredictor.predict` (runtime/heads.py) unpacks it into a dict by head name. The files carry
the outputs apart: TFLite's signature outputs and ONNX's graph outputs are `output_0`, `output_1`, ...
in the manifest's head order. A one-output bundle has no heads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .frozen import named_tuple


@named_tuple  # a tuple like typing.NamedTuple, defined in a sixth of the time (cold start)
class Head:
    """One output of the model: its name (from Keras) and its shape after the batch axis."""

    name: str
    shape: tuple[int, ...]

    @property
    def width(self) -> int:
        return math.prod(self.shape)


def file_output(i: int) -> str:
    """The name of the i-th head in the files (TFLite signature output, ONNX graph output)."""
    return f"output_{i}"


def packed_width(heads: Sequence[Head]) -> int:
    return sum(h.width for h in heads)


def pack(arrays: Sequence[Any]) -> np.ndarray:
    """Outputs in head order -> one float32 (batch, total) array."""
    return np.concatenate([np.asarray(a, np.float32).reshape(len(a), -1) for a in arrays], axis=1)


def unpack(y: np.ndarray, heads: Sequence[Head]) -> dict[str, np.ndarray]:
    """A packed (batch, total) array -> {head name: (batch, *head shape)}."""
    out, at = {}, 0
    for head in heads:
        out[head.name] = y[:, at : at + head.width].reshape(len(y), *head.shape)
        at += head.width
    return out


__all__ = ["Head", "file_output", "pack", "packed_width", "unpack"]
