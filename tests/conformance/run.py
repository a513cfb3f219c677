"""Run one conformance case: export it to every format (step models too when the case streams), run
each artifact on every installed backend of its format, and compare with Keras on fresh windows.

A result per (format, backend): "ok <max abs error>", "refused: <reason>" (the manifest's refusal of
that format, or the whole model's), or "missing" (neither: a hole the tests fail on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgernn.export import FORMATS, export_bundle
from edgernn.runtime import backends, load
from edgernn.runtime.errors import EdgeRNNError

from .base import Case, build_seeded

TOLERANCE = 1e-5
STREAM_CHUNKS = 3


@dataclass
class Outcome:
    case: Case
    refused: str = ""  # the whole model's refusal
    results: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (format, role, backend) -> result
    worst: float = 0.0
    cell: str = ""  # the manifest's model.cell ("lstm", "gru+lstm", ...)


def pairs() -> list[tuple[str, str]]:
    """(format, backend) of every float32 window model the registries allow and this machine runs."""
    return [
        (f, b)
        for f in FORMATS
        for b in backends.backends_for(f)
        if backends.runs_variant(b, "float32") and backends.available(b)
    ]


def _reset(model) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


FREE_STEPS = (1, 7, 300)  # a free-T model is run at each


def _windows(model, seed: int) -> list:
    """Windows per sequence length; a model with several inputs gets one list of arrays (one per input)."""
    if len(model.inputs) > 1:
        rng = np.random.default_rng(seed)
        return [[rng.uniform(-1, 1, (3, *t.shape[1:])).astype(np.float32) for t in model.inputs]]
    shape = tuple(model.inputs[0].shape)
    batch, rng = shape[0] or 3, np.random.default_rng(seed)
    lengths = FREE_STEPS if shape[1] is None else (shape[1],)
    embedding = [layer for layer in model.layers if type(layer).__name__ == "Embedding"]
    if len(shape) == 2 and embedding:  # token ids over the whole vocabulary, id 0 padding the first row's tail
        windows = [rng.integers(0, embedding[0].input_dim, (batch, t)).astype(np.int32) for t in lengths]
        for x in windows:
            x[0, -2:] = 0
        return windows
    windows = [rng.uniform(-1, 1, (batch, t, *shape[2:])).astype(np.float32) for t in lengths]
    masking = [layer for layer in model.layers if type(layer).__name__ == "Masking"]
    if masking:  # padded rows (tail, head, middle), written here rather than with export's helper
        value = masking[0].get_config()["mask_value"]
        for x in windows:
            x[0, -2:], x[1 % len(x), :2] = value, value
    return windows


def _keras(model, x) -> np.ndarray:
    _reset(model)  # a stateful layer starts each window from zeros, as the exported window model does
    y = model(x, training=False)
    if isinstance(y, (list, tuple)):  # several outputs side by side, as _packed lays predict's dict
        return np.concatenate([np.asarray(t, np.float32).reshape(len(t), -1) for t in y], axis=1)
    return np.asarray(y, np.float32)


def _packed(y, heads) -> np.ndarray:
    """predict's answer as one array: a dict by output name laid side by side in the manifest's order."""
    return np.concatenate([y[h.name].reshape(len(y[h.name]), -1) for h in heads], axis=1) if heads else y


def _stream_reference(model, xs: np.ndarray) -> np.ndarray:
    """Keras on consecutive chunks: stateful layers carry state between calls; else each chunk's sequence."""
    _reset(model)
    steps = model.inputs[0].shape[1] or 7
    outs = [np.asarray(model(xs[:, i : i + steps], training=False)) for i in range(0, xs.shape[1], steps)]
    return np.stack(outs, axis=1) if outs[0].ndim == 2 else np.concatenate(outs, axis=1)


def _streamed(path: Path, backend: str, xs: np.ndarray, steps: int, last_only: bool, carry: bool) -> np.ndarray:
    stream = load(path, backend=backend).stream()
    ys = []
    for t in range(xs.shape[1]):
        if t % steps == 0 and not carry:
            stream.reset()  # a stateless model: Keras starts each chunk from zeros
        ys.append(stream.step(xs[:, t]))
    ys = np.stack(ys, axis=1)
    return ys[:, steps - 1 :: steps] if last_only else ys


def run_case(case: Case, root: Path) -> Outcome:
    """Export and check `case` under `root`; never raises for a refusal (the outcome says it)."""
    out = Outcome(case)
    model = build_seeded(case)
    if model is None:
        out.refused = f"no Keras model expresses it; supported by {case.peer}"
        return out
    try:
        result = export_bundle(model, root / case.id, formats=tuple(FORMATS), streaming=case.streaming)
    except EdgeRNNError as exc:
        out.refused = str(exc)
        return out
    refusals = {(r.format, r.role): r.reason for r in result.manifest.refusals}
    out.cell = result.manifest.model.cell
    windows = _windows(model, seed=3)
    wants = [_keras(model, x) for x in windows]
    for fmt, backend in pairs():
        have = {a.format for a in result.manifest.artifacts(role="model", variant="float32")}
        if fmt not in have:
            out.results[(fmt, "model", backend)] = f"refused: {refusals.get((fmt, 'model'), 'missing')}"
            continue
        predictor = load(result.path, backend=backend)
        heads, names = result.manifest.spec.heads, [p.name for p in result.manifest.spec.inputs]
        feeds = [dict(zip(names, x)) if names else x for x in windows]  # several inputs: a dict by input name
        verdicts = [_verdict(out, want, _packed(predictor.predict(x), heads)) for x, want in zip(feeds, wants)]
        out.results[(fmt, "model", backend)] = max(verdicts, key=lambda v: (v.startswith("FAIL"), v))
    if case.streaming:
        _check_streams(out, model, result)
    return out


def _check_started_streams(out: Outcome, model, result) -> None:
    """Several inputs: streams opened at the initial states the model takes as inputs, stepped over one window."""
    rng = np.random.default_rng(4)
    feed = {t.name: rng.uniform(-1, 1, (2, *t.shape[1:])).astype(np.float32) for t in model.inputs}
    want = _keras(model, list(feed.values()))
    started = result.manifest.streaming.started
    (x,) = [v for n, v in feed.items() if n not in started]
    for step in result.manifest.artifacts(role="step"):
        for backend in backends.backends_for(step.format):
            if backends.available(backend) and backends.runs(backend, step):
                stream = load(result.path, backend=backend).stream(2, {n: feed[n] for n in started})
                got = np.stack([stream.step(x[:, t]) for t in range(x.shape[1])], axis=1)
                out.results[(step.format, "step", backend)] = _verdict(out, want, got if want.ndim == 3 else got[:, -1])


def _check_streams(out: Outcome, model, result) -> None:
    if len(model.inputs) > 1:
        return _check_started_streams(out, model, result)
    steps = model.inputs[0].shape[1] or 7
    batch = model.inputs[0].shape[0] or 1
    xs = np.random.default_rng(4).uniform(-1, 1, (batch, STREAM_CHUNKS * steps, model.inputs[0].shape[2]))
    xs = xs.astype(np.float32)
    want = _stream_reference(model, xs)
    last_only = want.shape[1] == STREAM_CHUNKS and len(model.outputs[0].shape) == 2
    for step in result.manifest.artifacts(role="step"):
        for backend in backends.backends_for(step.format):
            if backends.available(backend) and backends.runs(backend, step):
                carry = any(getattr(layer, "stateful", False) for layer in model.layers)
                got = _streamed(result.path, backend, xs, steps, last_only, carry)
                out.results[(step.format, "step", backend)] = _verdict(out, want, got)


def _verdict(out: Outcome, want: np.ndarray, got: np.ndarray) -> str:
    err = float(np.max(np.abs(np.asarray(got, np.float64) - want))) if want.size else 0.0
    out.worst = max(out.worst, err)
    return f"ok {err:.1e}" if err <= TOLERANCE else f"FAIL {err:.1e}"
