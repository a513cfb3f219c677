"""Streaming: a step model whose recurrent state is an explicit input and output, carried here.

A bundle exported with `--streaming` holds step models (artifacts with `"role": "step"`) that
take one sample `x_t` of shape (batch, features) plus every state tensor, and return `y_t` and
the next states. The manifest's `streaming` block names the tensors and gives the state shapes;
the initial state is zeros, or for a model with initial_state inputs what `stream(initial_state=...)`
is given by input name (each state's `initial` names its input; zeros when not given). One
`StepModel` is loaded per Predictor and shared by all its streams; each `Stream` owns only its state
arrays, so streams are cheap and independent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import backends
from .errors import InputError, ManifestError
from .guard import as_float32, run_error
from .inputs import split
from .manifest import ArtifactEntry, Spec, StreamingBlock

if TYPE_CHECKING:
    from .backends import StepRunner


class StepModel:
    """A loaded step model in one backend. Stateless, so one is shared by many Streams."""

    def __init__(self, runner: StepRunner, spec: Spec, streaming: StreamingBlock, artifact: ArtifactEntry):
        self.spec, self.streaming, self.artifact = spec, streaming, artifact
        self._run_step = runner.run_step
        self.backend = runner.name
        self.features = sample_width(spec, streaming, artifact.file)  # x_t's width

    @classmethod
    def load(
        cls, backend: str, content: bytes, artifact: ArtifactEntry, spec: Spec, streaming: StreamingBlock
    ) -> StepModel:
        """Open the checked bytes of the step artifact in `backend` and check its tensor widths.

        Raises:
            ManifestError: the step model's tensor widths differ from the manifest's.
        """
        names_in, names_out = streaming.input_names, streaming.output_names
        runner = backends.open_step(backend, content, artifact, names_in, names_out)
        sizes = [s.size for s in streaming.states]
        features = sample_width(spec, streaming, artifact.file)
        _check_widths(artifact.file, names_in, [features, *sizes], runner.step_widths[0])
        _check_widths(artifact.file, names_out, [spec.outputs, *sizes], runner.step_widths[1])
        return cls(runner, spec, streaming, artifact)

    def zeros(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, s.size), dtype=np.float32) for s in self.streaming.states]

    def step_model_units(self, x_t: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One step in model units: (y_t, next states). No checks: callers pass float32 (batch, ...)."""
        if not self.spec.folded:
            return self.step_artifact(x_t, states)
        y, states = self.step_artifact(self.spec.x.to_raw(x_t).astype(np.float32), states)
        return self.spec.y.to_model(y).astype(np.float32), states

    def step_artifact(self, x_t: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One step in the artifact's own units (raw when the bundle is folded, else model units)."""
        try:
            out = self._run_step([x_t, *states])
        except Exception as exc:  # a runtime's own exception types never escape, as in predict
            raise run_error(exc, self.artifact.file) from None
        return out[0], out[1:]

    def run_model_units(self, xs: np.ndarray, initial: list[np.ndarray] | None = None) -> np.ndarray:
        """Step through (batch, steps, features) model-unit samples from the zero state (or `initial`, a state
        list) -> (batch, steps, outputs). A model with initial_state inputs also takes its packed windows
        (batch, total) (runtime/inputs.py: golden.npz, validate), split into the samples and the initial states."""
        if initial is None and self.spec.inputs and np.ndim(xs) == 2:
            xs, initial = self._unpacked(xs)
        xs = np.ascontiguousarray(xs, dtype=np.float32)
        states = self.zeros(xs.shape[0]) if initial is None else [np.asarray(s, np.float32) for s in initial]
        ys = []
        for t in range(xs.shape[1]):
            y, states = self.step_model_units(np.ascontiguousarray(xs[:, t]), states)
            ys.append(y)
        return np.stack(ys, axis=1) if ys else np.zeros((xs.shape[0], 0, self.spec.outputs), np.float32)

    def _unpacked(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        parts = dict(zip((p.name for p in self.spec.inputs), split(np.asarray(x, np.float32), self.spec.inputs)))
        states = self.zeros(len(x))
        for name, index in self.streaming.started.items():
            states[index] = parts.pop(name)
        (xs,) = parts.values()
        return xs, states


def sample_width(spec: Spec, streaming: StreamingBlock, file: str) -> int | None:
    """Features of one sample x_t: the input's, or with several inputs the one no state starts from."""
    if not spec.inputs:
        return spec.features
    started = streaming.started
    rest = [p for p in spec.inputs if p.name not in started]
    known = {p.name: p.shape for p in spec.inputs}
    sizes = {s.initial: s.size for s in streaming.states if s.initial != "zeros"}
    if len(rest) != 1 or len(rest[0].shape) != 2 or any(known.get(n) != (w,) for n, w in sizes.items()):
        raise ManifestError(
            f"{file}: the manifest's inputs {[p.name for p in spec.inputs]} and the streaming states' initial inputs "
            f"{sorted(started)} do not leave one sequence input with each state's input its width; re-export."
        )
    return rest[0].shape[1]


def _check_widths(file: str, names: list[str], want: list[int], got: list[int | None]) -> None:
    """Each tensor's last-axis width in the step model against the manifest (None: free, matches any)."""
    for name, w, g in zip(names, want, got):
        if g is not None and g != w:
            raise ManifestError(
                f"{file}: tensor {name!r} is (batch, {g}) in the step model, but the manifest says (batch, {w}); "
                "the manifest and the model file disagree. Re-export the bundle with --streaming."
            )


MAX_STREAM_BATCH = 1 << 20  # a million concurrent streams; 10**12 used to be a MemoryError (or the machine)


class Stream:
    """One stream of samples: `step(x_t) -> y_t` in raw units, carrying the recurrent state.

    Not thread-safe by itself (it owns its state); give each thread or sensor its own Stream.
    """

    def __init__(self, model: StepModel, batch: int = 1, initial_state: Mapping[str, Any] | None = None):
        if not (isinstance(batch, int) and not isinstance(batch, bool) and 0 < batch <= MAX_STREAM_BATCH):
            raise InputError(
                f"batch must be an integer from 1 to {MAX_STREAM_BATCH} (the streams carried at once), got {batch!r}."
            )
        self.model, self.batch = model, batch
        self._x, self._y, self._folded = model.spec.x, model.spec.y, model.spec.folded
        self._features = model.features
        self._names = tuple(s.name for s in model.streaming.states)
        self._shapes = tuple((batch, s.size) for s in model.streaming.states)
        self._states = model.zeros(batch)
        self._initial = None  # initial_state given: the states reset() returns to
        if initial_state is not None:
            self._initial = self._starting(initial_state)
            self._states = [s.copy() for s in self._initial]
        self._nan_rows: np.ndarray | None = None  # rows a NaN has poisoned (see _keep_nan)
        self.steps = 0

    def __repr__(self) -> str:
        return f"Stream(batch={self.batch}, backend={self.model.backend!r}, steps={self.steps})"

    def step(self, x_t: Any, *, allow_nonfinite: bool = False) -> np.ndarray:
        """Feed one sample per stream row and return the prediction for it.

        Args:
            x_t: raw units, shape (features,) when batch is 1, or (batch, features).
            allow_nonfinite: pass NaN/inf through instead of refusing them (they then poison the state).

        Returns:
            float32 (outputs,) for a 1-D x_t, else (batch, outputs), raw units.

        Raises:
            InputError: wrong shape, non-numeric or non-finite data (the state is left unchanged).
        """
        x = self._check(x_t, allow_nonfinite)
        if self._folded:  # the step model takes and returns raw units
            y, self._states = self.model.step_artifact(x, self._states)
        else:
            y, self._states = self.model.step_model_units(self._x.to_model(x), self._states)
            y = self._y.to_raw(y)
        if allow_nonfinite or self._nan_rows is not None:
            y = self._keep_nan(x, y)
        self.steps += 1
        return y[0] if np.ndim(x_t) == 1 else y

    def _keep_nan(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """NaN in y and in the state of every row that has seen a NaN sample, on every backend (onnxruntime's
        LSTM/GRU kernels clamp NaN to a finite number; LiteRT and numpy propagate it)."""
        rows = np.isnan(x).any(axis=1)
        if self._nan_rows is not None:
            rows |= self._nan_rows
        if not rows.any():
            return y
        self._nan_rows = rows
        y = np.array(y, dtype=np.float32)
        y[rows] = np.nan
        self._states = [np.where(rows[:, None], np.float32(np.nan), s).astype(np.float32) for s in self._states]
        return y

    def reset(self) -> None:
        """Back to the initial state (zeros, or the initial_state the stream was opened with)."""
        self._states = self.model.zeros(self.batch) if self._initial is None else [s.copy() for s in self._initial]
        self._nan_rows = None
        self.steps = 0

    def _starting(self, given: Any) -> list[np.ndarray]:
        """The states from `initial_state` {model input name: (batch, size) or (size,) at batch 1}; InputError
        naming the inputs this bundle's states start from."""
        started = self.model.streaming.started
        if not started:
            raise InputError(
                "initial_state: this bundle's model starts every state from zeros (it takes no initial_state "
                "inputs); open the stream without it, or set stream.state to resume a stream."
            )
        if not isinstance(given, Mapping) or set(given) != set(started):
            got = sorted(map(str, given)) if isinstance(given, Mapping) else type(given).__name__
            raise InputError(
                f"initial_state must be a mapping with keys {sorted(started)} (the model's inputs), got {got}."
            )
        states = self.model.zeros(self.batch)
        for name, index in started.items():
            arr = as_float32(given[name], (self._shapes[index][1],))
            arr = arr[None] if arr.ndim == 1 and self.batch == 1 else arr
            if arr.shape != self._shapes[index] or not np.isfinite(arr).all():
                raise InputError(
                    f"initial_state {name!r} must be finite, shaped {self._shapes[index]} (batch, size), "
                    f"got {arr.shape}."
                )
            states[index] = np.array(arr, np.float32)
        return states

    @property
    def state(self) -> dict[str, np.ndarray]:
        """A copy of the state, {name: float32 (batch, size)} in model units; set it to resume."""
        return {name: value.copy() for name, value in zip(self._names, self._states)}

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        if not isinstance(value, Mapping) or set(value) != set(self._names):
            got = sorted(value, key=repr) if isinstance(value, Mapping) else type(value).__name__  # keys of any type
            raise InputError(f"state must be a mapping with keys {list(self._names)}, got {got}; use stream.state.")
        new = []
        for name, shape in zip(self._names, self._shapes):
            try:
                arr = np.array(value[name], dtype=np.float32)  # a copy: the caller's array stays theirs
            except (TypeError, ValueError) as exc:
                raise InputError(f"state {name!r} is not numeric ({exc}).") from None
            if arr.shape != shape:
                raise InputError(f"state {name!r} must have shape {shape} (batch, size), got {arr.shape}.")
            if not np.isfinite(arr).all():
                raise InputError(f"state {name!r} contains NaN or inf.")
            new.append(arr)
        self._states, self._nan_rows = new, None

    def _check(self, x_t: Any, allow_nonfinite: bool) -> np.ndarray:
        arr = as_float32(x_t, (self._features,))  # as predict: strings, objects, complex refused
        if arr.ndim == 1 and self.batch == 1 and arr.shape[0] == self._features:
            arr = arr[None]
        if arr.shape != (self.batch, self._features):
            one = f"({self._features},) or " if self.batch == 1 else ""
            raise InputError(
                f"expected one sample of shape {one}(batch={self.batch}, features={self._features}), got {arr.shape}."
            )
        # one float64 sum is finite exactly when every value is (float32 values cannot overflow it)
        if not allow_nonfinite and not math.isfinite(arr.sum(dtype=np.float64)):
            raise InputError("sample contains NaN or inf; clean it, or pass allow_nonfinite=True to run it anyway.")
        return np.ascontiguousarray(arr)  # a column slice xs[:, t] is strided; the runtimes want it packed


def window_outputs(model: StepModel) -> Callable[[np.ndarray], np.ndarray]:
    """A function like `Predictor.run_model_units`, computed by stepping `model` (how `validate` checks step models).

    Each window is stepped from the zero state; a window model keeps the last step's output.
    """
    if model.spec.sequence_output:
        return model.run_model_units
    return lambda xm: model.run_model_units(xm)[:, -1]


def stream_values(predictor, values, allow_nonfinite: bool = False) -> list[np.ndarray]:
    """Feed a flat list of raw values (features per sample, time-major) to a new stream; one output per sample."""
    features = predictor.step_model().features
    if not len(values) or len(values) % features:
        raise InputError(f"expected a multiple of {features} values (features per sample), got {len(values)}.")
    stream = predictor.stream()
    step = stream.step
    return [step(values[i : i + features], allow_nonfinite=allow_nonfinite) for i in range(0, len(values), features)]


__all__ = ["Stream", "StepModel", "stream_values", "window_outputs"]
