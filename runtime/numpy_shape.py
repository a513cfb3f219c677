"""Layers that reshape or combine tensors, in numpy: Masking, Embedding (token ids), Flatten, Reshape,
RepeatVector, and the merges (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum), which
take several inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .numpy_layers import Weights


class Masking:
    """Keras's Masking: steps whose every feature equals mask_value become zeros and are masked (the mask
    goes to the recurrent layers after it, which keep their state over masked steps)."""

    can_step = False  # a masked step is the identity on the state: not in the step models yet
    state_widths = ()
    makes_mask = True

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        value = rec.get("mask_value", 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or len(shape) != 2:
            raise ModelLoadError(f"{where}: Masking needs a number mask_value and (batch, T, F) input; re-export.")
        self.value, self.out_shape = np.float32(value), shape

    def masked(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = np.any(x != self.value, axis=-1)
        return x * mask[..., None].astype(np.float32), mask

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.masked(x)[0]


class Embedding:
    """Keras's Embedding: int token ids (batch, T) -> rows of the table (batch, T, D); with mask_zero, id 0
    is masked (the mask goes on as Masking's does). Ids outside the table are refused by TokenPredictor."""

    can_step = False  # token inputs do not stream yet
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        vocabulary, width = rec.get("input_dim"), rec.get("output_dim")
        if len(shape) != 1 or not all(type(v) is int and v > 0 for v in (vocabulary, width)):
            raise ModelLoadError(f"{where}: Embedding needs input_dim, output_dim and (batch, T) ids; re-export.")
        self.table = w.get(rec.get("embeddings"), (vocabulary, width))
        self.makes_mask = bool(rec.get("mask_zero", False))
        self.out_shape = (shape[0], width)

    def masked(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.table[x], x != 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.table[x]


class Flatten:
    can_step = False  # mixes time into features
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        if None in shape:
            raise ModelLoadError(f"{where}: Flatten needs static dims, its input is (batch, *{shape}).")
        self.out_shape = (math.prod(shape),)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)


class Reshape:
    can_step = False
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        target = rec.get("target_shape")
        if not isinstance(target, list) or not all(isinstance(d, int) and (d > 0 or d == -1) for d in target):
            raise ModelLoadError(f"{where}: Reshape target_shape {target!r}; expected positive ints (one -1).")
        size = math.prod(shape) if None not in shape else None
        known = math.prod(d for d in target if d != -1)
        if target.count(-1) > 1 or size is None or (size % known if -1 in target else size != known):
            raise ModelLoadError(f"{where}: cannot reshape (batch, *{shape}) to (batch, *{target}).")
        self.out_shape = tuple(size // known if d == -1 else d for d in target)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], *self.out_shape)


class RepeatVector:
    can_step = False
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shape: tuple, w: Weights, where: str) -> None:
        n = rec.get("n")
        if len(shape) != 1 or not isinstance(n, int) or n <= 0:
            raise ModelLoadError(f"{where}: RepeatVector needs (batch, features) and a positive n, got {shape}, {n!r}.")
        self.n, self.out_shape = n, (n, shape[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.repeat(x[:, None, :], self.n, axis=1)


MERGES = {
    "add": lambda xs: _fold(np.add, xs),
    "subtract": lambda xs: np.subtract(xs[0], xs[1]),
    "multiply": lambda xs: _fold(np.multiply, xs),
    "average": lambda xs: _fold(np.add, xs) / np.float32(len(xs)),
    "maximum": lambda xs: _fold(np.maximum, xs),
    "minimum": lambda xs: _fold(np.minimum, xs),
}


def _fold(op, xs: list[np.ndarray]) -> np.ndarray:
    out = xs[0]
    for x in xs[1:]:
        out = op(out, x)
    return out


class Merge:
    """An elementwise merge of equal shapes, or Concatenate along `axis` (Keras counts the batch axis)."""

    merge = True  # takes the list of its inputs
    can_step = False
    state_widths = ()

    def __init__(self, rec: dict[str, Any], shapes: list[tuple], w: Weights, where: str) -> None:
        kind = rec.get("kind")
        if len(shapes) < 2 or (kind == "subtract" and len(shapes) != 2):
            raise ModelLoadError(f"{where}: {kind} of {len(shapes)} inputs; re-export the bundle.")
        if kind == "concatenate":
            axis = rec.get("axis", -1)
            rank = len(shapes[0]) + 1
            if not isinstance(axis, int) or not -rank < axis < rank or axis == 0 or axis == -rank:
                raise ModelLoadError(f"{where}: Concatenate axis {axis!r} for inputs (batch, *{shapes[0]}).")
            self.axis = axis if axis < 0 else axis - rank
            at = self.axis + rank - 1  # the axis in the shapes without batch
            if len({s[:at] + s[at + 1 :] for s in shapes}) != 1 or any(len(s) != rank - 1 for s in shapes):
                raise ModelLoadError(f"{where}: cannot concatenate inputs {shapes} on axis {axis}.")
            out = list(shapes[0])
            out[self.axis] = sum(s[self.axis] for s in shapes)
            self.op, self.out_shape = self._concat, tuple(out)
        elif kind in MERGES:
            if len(set(shapes)) != 1:
                raise ModelLoadError(f"{where}: {kind} of differently shaped inputs {shapes}.")
            self.op, self.out_shape = MERGES[kind], shapes[0]
        else:
            raise ModelLoadError(f"{where}: unknown merge {kind!r}.")

    def _concat(self, xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs, axis=self.axis)

    def __call__(self, xs: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.op(xs), dtype=np.float32)


LAYERS = {
    "masking": Masking,
    "embedding": Embedding,
    "flatten": Flatten,
    "reshape": Reshape,
    "repeat_vector": RepeatVector,
    **{kind: Merge for kind in ("concatenate", *MERGES)},
}
