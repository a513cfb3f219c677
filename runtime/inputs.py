"""Several inputs (two-input functional models, a sequence plus a static feature vector, initial_state).

Inside edgernn a model with several inputs takes them *packed*, as several outputs come back packed
(runtime/outputs.py): each input flattened per row and concatenated in the Keras model's input order,
one float32 (batch, total) array. So the proof, the golden vectors, validate and every backend's
shape check handle one array that covers every input; `InputsPredictor.predict` (runtime/feeds.py)
packs a dict by input name (or a list in manifest order), and each backend unpacks the array into
the file's own inputs, which carry the Keras input names (TFLite signature inputs, ONNX graph
inputs, the numpy graph's inputs in order). A one-input bundle has no `input.inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import InputError, ModelLoadError
from .guard import as_float32
from .outputs import Head

Port = Head  # one input: its name (from Keras) and its shape after the batch axis


def describe(ports: Sequence[Port]) -> str:
    """'a (batch, 5, 3), b (batch, 4)': what the message of a refused input names."""
    return ", ".join(f"{p.name!r} (batch, {', '.join(map(str, p.shape))})" for p in ports)


def split(x: np.ndarray, ports: Sequence[Port]) -> list[np.ndarray]:
    """A packed (batch, total) array -> one contiguous array per input, (batch, *its shape), in port order."""
    out, at, n = [], 0, len(x)
    for port in ports:
        out.append(np.ascontiguousarray(x[:, at : at + port.width].reshape(n, *port.shape)))
        at += port.width
    return out


def file_inputs(have: Sequence[str], ports: Sequence[Port], file: str) -> list[str]:
    """The file's input names in the manifest's order (they are the Keras input names); ModelLoadError if
    the file's inputs are not exactly those."""
    names = [p.name for p in ports]
    if sorted(names) != sorted(have):
        raise ModelLoadError(
            f"{file}: expected inputs {names} (one per input in the manifest), the model has {sorted(have)}; re-export."
        )
    return names


def pack_inputs(x: Any, ports: Sequence[Port]) -> np.ndarray:
    """A dict by input name (or a list/tuple in manifest order) -> the packed float32 (batch, total) array.

    An array already packed, (batch, total) with every input's values side by side in manifest order (what
    golden.npz and the CLI's rows hold), is taken as it is.

    Raises:
        InputError: one unpacked array, a missing or extra input, a wrong shape or a batch that differs
            between inputs.
    """
    want = f"{len(ports)} inputs: {describe(ports)}"
    width = sum(p.width for p in ports)
    if isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == width:
        return as_float32(x, (width,))
    if isinstance(x, Mapping):
        names = [p.name for p in ports]
        missing, extra = [n for n in names if n not in x], [str(k) for k in x if k not in names]
        if missing or extra:
            raise InputError(
                f"expected {want}; got a dict with keys {[str(k) for k in x]} (missing {missing}, unknown {extra}). "
                "Pass one array per input name."
            )
        arrays = [x[n] for n in names]
    elif isinstance(x, (list, tuple)) and len(x) == len(ports) and not _numbers(x):
        arrays = list(x)
    else:
        got = f"a list of {len(x)} items" if isinstance(x, (list, tuple)) else f"{type(x).__name__}"
        shape = getattr(x, "shape", None)
        raise InputError(
            f"expected {want}; got {got}{f' shaped {tuple(shape)}' if shape is not None else ''}. Pass a dict "
            f"{{name: array}}, a list of arrays in that order, or one packed (batch, {width}) array holding them side "
            "by side."
        )
    rows = []
    for port, value in zip(ports, arrays):
        arr = as_float32(value, port.shape)
        if arr.shape[1:] != port.shape or arr.ndim != len(port.shape) + 1:
            hint = " Add a batch axis: x[None]." if arr.shape == port.shape else ""
            raise InputError(
                f"input {port.name!r}: expected shape (batch, {', '.join(map(str, port.shape))}), "
                f"got {arr.shape}.{hint}"
            )
        rows.append(arr.reshape(len(arr), port.width))
    if len({len(r) for r in rows}) > 1:
        raise InputError(
            f"the inputs hold different batch sizes ({dict(zip((p.name for p in ports), (len(r) for r in rows)))}); "
            "every input needs one row per window."
        )
    return np.concatenate(rows, axis=1)


def _numbers(x: Sequence[Any]) -> bool:
    """A list of plain numbers (one sample written as a list), not a list of arrays."""
    return all(isinstance(v, (int, float)) for v in x)


__all__ = ["Port", "describe", "file_inputs", "pack_inputs", "split"]
