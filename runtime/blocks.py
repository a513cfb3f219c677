"""The manifest's optional blocks: streaming (the step models' tensors), quantization, the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from . import checks
from .errors import ManifestError
from .frozen import record


class StateSpec(NamedTuple):  # a NamedTuple: immutable, and ~5x cheaper to define than a dataclass
    """One state tensor of a step model: its input name, the name of its next value, its width."""

    name: str
    output: str
    size: int
    layer: str = ""
    initial: str = "zeros"  # or the model input it starts from (a layer called with initial_state=, runtime/inputs.py)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "output": self.output,
            "shape": [self.size],
            "layer": self.layer,
            "initial": self.initial,
        }


@record  # compared by to_json(); a frozen dataclass, made cheaply (frozen.py)
class StreamingBlock:
    """The manifest's `streaming` block: the step models' tensor names and state shapes (zeros at start)."""

    input: str
    output: str
    states: tuple[StateSpec, ...]

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> StreamingBlock:
        """The block, or ManifestError naming what is wrong with it."""
        block, problem = cls.parse_deferred(raw, where)
        if problem:
            raise ManifestError(problem)
        return block

    @classmethod
    def parse_deferred(cls, raw: Any, where: checks.Where) -> tuple[StreamingBlock | None, str]:
        """(block, "") or (None, why a state is malformed): a bundle's window models still run then, and the
        reason is raised when a step model is asked for. A block that is not an object of states is refused."""
        raw = checks.obj(raw, "streaming", where)
        states = raw.get("states", [])
        if not (isinstance(states, list) and all(isinstance(s, dict) for s in states)):
            raise ManifestError(f"{where}: streaming.states is {states!r}; expected a list of state objects.")
        try:
            parsed = tuple(
                StateSpec(
                    str(s["name"]),
                    str(s["output"]),
                    int(s["shape"][-1]),
                    str(s.get("layer", "")),
                    str(s.get("initial", "zeros")),
                )
                for s in states
            )
            block = cls(str(raw["input"]), str(raw["output"]), parsed)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return None, (
                f"{where}: the 'streaming' block is malformed ({type(exc).__name__}: {exc}); "
                "re-export with --streaming."
            )
        if not parsed or any(s.size <= 0 for s in parsed):
            return None, f"{where}: the 'streaming' block lists states {states!r}; expected positive widths."
        return block, ""

    @property
    def started(self) -> dict[str, int]:
        """{model input name: state index} of the states that start from an input (initial_state=), else {}."""
        return {s.initial: i for i, s in enumerate(self.states) if s.initial != "zeros"}

    @property
    def input_names(self) -> list[str]:
        return [self.input, *(s.name for s in self.states)]

    @property
    def output_names(self) -> list[str]:
        return [self.output, *(s.output for s in self.states)]

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "states": [s.to_json() for s in self.states],
            "initial_state": "inputs" if self.started else "zeros",
            "state_units": "model",
            "convention": "y_t, next states = step(x_t, states); start from zeros (or a state's 'initial' input)",
        }


@record  # compared by to_json(); a frozen dataclass, made cheaply (frozen.py)
class QuantizationBlock:
    """The manifest's `quantization` block: what was asked, what it was calibrated and measured on, what failed."""

    requested: tuple[str, ...]
    calibration: Mapping[str, Any]
    holdout: Mapping[str, Any]
    failed: tuple[Mapping[str, str], ...] = ()

    @property
    def message(self) -> str:
        """One line per variant left out: which, and why."""
        return "\n".join(
            f"variant {f.get('variant', '?')} ({f.get('format', '?')}) not written: {f.get('reason', '?')}"
            for f in self.failed
        )

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> QuantizationBlock:
        raw = checks.obj(raw, "quantization", where)
        requested = checks.string_list(raw.get("requested", []), "quantization.requested", where, "variant names")
        failed = raw.get("failed", [])
        if not isinstance(failed, list):
            raise ManifestError(f"{where}: quantization.failed is {failed!r}; expected a list of objects.")
        # A record only reports what export left out: an odd one prints as '?', it changes no answer.
        calibration, holdout = raw.get("calibration", {}), raw.get("holdout", {})
        return cls(
            requested,
            calibration if isinstance(calibration, dict) else {},
            holdout if isinstance(holdout, dict) else {},
            tuple(f if isinstance(f, dict) else {} for f in failed),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": list(self.requested),
            "calibration": dict(self.calibration),
            "holdout": dict(self.holdout),
            "failed": [dict(f) for f in self.failed],
            "message": self.message,
        }


@record  # compared by to_json(); a frozen dataclass, made cheaply (frozen.py)
class ModelBlock:
    """What the Keras model was: its cells (one per recurrent layer), layers and parameter count."""

    cell: str = "?"
    cells: tuple[str, ...] = ()
    bidirectional: bool = False
    trainable_params: int | None = None
    layers: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def parse(cls, raw: Any, where: checks.Where) -> ModelBlock:
        raw = checks.obj(raw, "model", where)
        cells = checks.string_list(raw.get("cells", []), "model.cells", where, "cell names like ['lstm']")
        params = raw.get("trainable_params")
        layers = raw.get("layers", [])
        return cls(
            str(raw.get("cell", "?")),
            cells,
            bool(raw.get("bidirectional", False)),
            params if isinstance(params, int) and not isinstance(params, bool) else None,
            tuple(layer for layer in layers if isinstance(layer, dict)) if isinstance(layers, list) else (),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "cells": list(self.cells),
            "bidirectional": self.bidirectional,
            "trainable_params": self.trainable_params,
            "layers": [dict(layer) for layer in self.layers],
        }


class Refusal(NamedTuple):
    """A format (and role) the export left out for this model, and why: a layer outside its kernel set, a
    converter's refusal, or a failed proof. The other formats of the bundle are unaffected."""

    format: str
    role: str
    reason: str

    @classmethod
    def parse_list(cls, raw: Any, where: checks.Where) -> tuple[Refusal, ...]:
        """The manifest's `refusals` list; an odd record prints as '?' (it only reports what export left out)."""
        if not isinstance(raw, list):
            raise ManifestError(f"{where}: 'refusals' is {raw!r}; expected a list of objects.")
        items = [r if isinstance(r, dict) else {} for r in raw]
        return tuple(
            cls(str(r.get("format", "?")), str(r.get("role", "model")), str(r.get("reason", "?"))) for r in items
        )

    def to_json(self) -> dict[str, str]:
        return {"format": self.format, "role": self.role, "reason": self.reason}
