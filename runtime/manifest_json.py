"""manifest.json as JSON: its text read and written (duplicate keys refused, numpy scalars written as
numbers), and its `input`, `output` and `preprocessing` blocks <-> the typed Spec (runtime/records.py).

Reading runs the C scanner that `json.loads` itself uses (`_json.make_scanner`), without importing
the `json` package: its decoder and encoder modules compile six regular expressions at import, about
1 ms of a ~5 ms cold start (benchmarks/cold_start.py). Anything the scanner refuses goes through
`json.loads`, so every error reads exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks
from .errors import ManifestError
from .records import CONVENTION, Affine, Spec

if TYPE_CHECKING:  # outputs.py is imported by the bundles with several inputs or outputs only (cold start)
    from .outputs import Head

_WHITESPACE = " \t\n\r"  # JSON's whitespace, as json.decoder skips it before and after the value
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}  # as json.loads


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # the one pass every object of a load takes; keys are counted only when one repeats
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"key {repeated[0]!r} appears more than once (JSON parsers disagree on which wins)")
    return out


class _Context:
    """What `_json.make_scanner` reads from a JSONDecoder: json.loads' defaults, duplicate keys refused."""

    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(unique_keys)
    parse_float, parse_int = float, int
    parse_constant = staticmethod(_CONSTANTS.__getitem__)


def _scan(text: str) -> Any:
    """`json.loads(text, object_pairs_hook=unique_keys)` on the C scanner; json.loads for every error."""
    try:
        from _json import make_scanner
    except ImportError:  # a Python without the C accelerator: the json package it is
        make_scanner = None
    if make_scanner is not None:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = make_scanner(_Context())(text, start)
        except (StopIteration, ValueError):
            pass  # json.loads below says what is wrong, in its own words
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text, object_pairs_hook=unique_keys)


def read_json(data: bytes, path: str) -> Any:
    """manifest.json's object; duplicate keys are refused, not silently last-wins."""
    try:
        return _scan(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise ManifestError(
            f"{path} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}); re-export the bundle."
        ) from None


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")


def parse_spec(raw: Mapping[str, Any], where: checks.Where) -> Spec:
    inp, out, pre = raw.get("input"), raw.get("output"), raw.get("preprocessing")
    if not isinstance(inp, dict) or not isinstance(out, dict) or not isinstance(pre, dict):
        raise ManifestError(f"{where}: 'input', 'output' and 'preprocessing' must be objects.")
    free = "timesteps" in inp and inp["timesteps"] is None  # a free sequence length (absent: an old bundle's error)
    timesteps = None if free else checks.positive_int(inp.get("timesteps"), "input.timesteps", where)
    example = checks.positive_int(inp.get("example_timesteps"), "input.example_timesteps", where) if free else None
    vocabulary = _vocabulary(inp, where)
    features = None if vocabulary else checks.positive_int(inp.get("features"), "input.features", where)
    outputs = checks.positive_int(out.get("outputs"), "output.outputs", where)
    if out.get("dtype", "float32") != "float32":
        raise ManifestError(f"{where}: output.dtype is {out['dtype']!r}; this edgernn reads float32 outputs only.")
    sequence = checks.boolean(out.get("sequence", False), "output.sequence", where)
    heads = _heads(out, outputs, where)
    inputs = _inputs(inp, features, vocabulary, where)
    x = Affine.of(*checks.channels(pre.get("input"), features or 1, "input", where))
    if vocabulary and not x.identity:
        raise ManifestError(f"{where}: preprocessing.input maps token ids; token inputs take no map. Re-export.")
    y = Affine.of(*checks.channels(pre.get("output"), outputs, "output", where))
    if heads and not y.identity:
        raise ManifestError(f"{where}: preprocessing.output maps several outputs; they take no map. Re-export.")
    folded = checks.boolean(pre.get("folded", False), "preprocessing.folded", where)  # absent: written before folding
    note = str(pre.get("fold_note", ""))
    out_steps = _output_timesteps(out, sequence, timesteps, where)
    return Spec(
        timesteps, features, outputs, sequence, x, y, folded, note, example, vocabulary, heads, inputs, out_steps
    )


def _output_timesteps(out: Mapping[str, Any], sequence: bool, timesteps: int | None, where: checks.Where) -> int | None:
    """output.timesteps: a sequence output's length when it differs from the input's (absent: the same T)."""
    if out.get("timesteps") is None:
        return None
    steps = checks.positive_int(out["timesteps"], "output.timesteps", where)
    if not sequence or timesteps is None:
        raise ManifestError(
            f"{where}: output.timesteps is {steps}; it is the length of a sequence output (output.sequence true) "
            "of a model with a fixed input.timesteps. Re-export the bundle."
        )
    return steps


def _inputs(inp: Mapping[str, Any], features: int | None, vocabulary: int | None, where: checks.Where) -> tuple:
    """input.inputs: the named inputs of a model with several (absent: one input, every older bundle)."""
    if inp.get("inputs") is None:
        return ()
    from .outputs import packed_width

    ports = _named(inp["inputs"], "input.inputs", where)
    if vocabulary or inp["timesteps"] is None or packed_width(ports) != features:
        raise ManifestError(
            f"{where}: input.inputs hold {packed_width(ports)} values a row; expected float32 inputs at a fixed "
            f"timesteps whose widths add up to input.features ({features})."
        )
    if any(p.get("dtype", "float32") != "float32" for p in inp["inputs"]):
        raise ManifestError(f"{where}: input.inputs[].dtype must be float32 (several inputs take float32 only).")
    return ports


def _heads(out: Mapping[str, Any], outputs: int, where: checks.Where) -> tuple[Head, ...]:
    """output.heads: the named outputs of a model with several (absent: one output, every older bundle)."""
    raw = out.get("heads")
    if raw is None:
        return ()
    from .outputs import packed_width

    heads = _named(raw, "output.heads", where)
    if packed_width(heads) != outputs:
        raise ManifestError(f"{where}: output.heads hold {packed_width(heads)} values a row, output.outputs {outputs}.")
    return heads


def _named(raw: Any, what: str, where: checks.Where) -> tuple[Head, ...]:
    """A list of 2 or more {'name', 'shape'} with distinct names (output.heads, input.inputs)."""
    from .outputs import Head

    ok = isinstance(raw, list) and len(raw) > 1 and all(isinstance(h, dict) for h in raw)
    heads = []
    for h in raw if ok else ():
        shape = h.get("shape")
        if not (isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape)):
            ok = False
            break
        heads.append(Head(checks.name(h.get("name"), f"{what}[].name", where), tuple(shape)))
    if not ok or len({h.name for h in heads}) != len(heads):
        raise ManifestError(
            f"{where}: {what} is {raw!r}; expected a list of 2 or more {{'name', 'shape'}} with distinct names."
        )
    return tuple(heads)


def _vocabulary(inp: Mapping[str, Any], where: checks.Where) -> int | None:
    """input.vocabulary of an int32 token input (None for float32, the dtype of every older bundle)."""
    dtype = inp.get("dtype", "float32")
    if dtype == "float32":
        return None
    if dtype != "int32":
        raise ManifestError(
            f"{where}: input.dtype is {dtype!r}; this edgernn feeds float32 windows or int32 token ids only."
        )
    if inp.get("features") is not None:
        raise ManifestError(f"{where}: an int32 token input is (batch, timesteps); input.features must be null.")
    return checks.positive_int(inp.get("vocabulary"), "input.vocabulary", where)


def input_json(spec: Spec) -> dict[str, Any]:
    out = {"name": "input", "timesteps": spec.timesteps, "features": spec.features, "dtype": spec.input_dtype}
    if spec.tokens:  # ids in [0, vocabulary): predict refuses the others
        out["vocabulary"] = spec.vocabulary
    if spec.timesteps is None:  # any T; the golden windows' length for tools that need one
        out["example_timesteps"] = spec.example_timesteps
    if spec.inputs:  # several inputs: predict takes a dict by these names; `features` is their packed width
        out["inputs"] = [{"name": p.name, "shape": list(p.shape), "dtype": "float32"} for p in spec.inputs]
    return out


def output_json(spec: Spec) -> dict[str, Any]:
    out = {"name": "output", "outputs": spec.outputs, "sequence": spec.sequence_output, "dtype": "float32"}
    if spec.output_timesteps is not None:  # a sequence output shorter than the input (a strided Conv1D)
        out["timesteps"] = spec.output_timesteps
    if spec.heads:  # several outputs: predict returns a dict by these names
        out["heads"] = [{"name": h.name, "shape": list(h.shape)} for h in spec.heads]
    return out


def preprocessing_json(spec: Spec) -> dict[str, Any]:
    out = {"convention": CONVENTION, "input": spec.x.to_json(), "output": spec.y.to_json(), "folded": spec.folded}
    if spec.fold_note:
        out["fold_note"] = spec.fold_note
    return out
