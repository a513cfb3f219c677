"""`edgernn info`: what a bundle holds, readable even when optional manifest blocks are odd."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..checks import printable_text
from .table import render


def print(*values: Any) -> None:  # noqa: A001 - every line of `info` comes from a manifest: escape it
    import builtins

    builtins.print(*(printable_text(v) for v in values))


def print_info(bundle: Bundle) -> None:
    """Print what a bundle holds: shapes, preprocessing, artifacts, metrics and variants."""
    m = bundle.manifest
    spec = m.spec
    params = "?" if m.model.trainable_params is None else m.model.trainable_params
    print(f"bundle   {bundle.path}  ({m.name})")
    print(f"model    {m.model.cell}, {params} trainable params")
    steps = spec.timesteps or f"any T >= 1 (golden: {spec.example_timesteps})"
    if spec.inputs:  # several inputs: predict takes a dict by these names (or the packed row, in this order)
        print("input    " + ", ".join(f"{p.name} (batch, {', '.join(map(str, p.shape))})" for p in spec.inputs))
    elif spec.tokens:
        print(f"input    (batch, {steps}) int32 token ids in [0, {spec.vocabulary})")
    else:
        print(f"input    (batch, {steps}, {spec.features}) float32")
    if spec.heads:  # several outputs: predict returns a dict by these names
        print("output   " + ", ".join(f"{h.name} (batch, {', '.join(map(str, h.shape))})" for h in spec.heads))
    elif spec.output_timesteps:  # a sequence output shorter than the input (a strided Conv1D)
        print(f"output   (batch, {spec.output_timesteps}, {spec.outputs}): {spec.output_timesteps} steps from {steps}")
    else:
        print(f"output   (batch, {spec.outputs}){' per step' if spec.sequence_output else ''}")
    if m.streaming:
        states = ", ".join(f"{s.name}({s.size},)" for s in m.streaming.states)
        start = m.streaming.started  # initial_state inputs: stream(initial_state={name: ...}) starts there
        first = f"from inputs {', '.join(start)} (stream(initial_state=...)), else zeros" if start else "zeros"
        print(f"stream   step(x_t, {states}) -> y_t, next states; initial state {first}")
    elif m.streaming_error:
        print("stream   ? (the manifest's streaming block is malformed; see --json)")
    if m.extra.get("feature_names"):
        print(f"columns  inputs {m.extra['feature_names']} -> outputs {m.extra.get('output_names')}")
    folded = "folded into the artifacts: they take raw units" if spec.folded else spec.fold_note or "applied in Python"
    print(f"preproc  x_model = (x_raw - {spec.x.to_json()['offset']}) * {spec.x.to_json()['scale']} ({folded})")
    rows = [
        [
            a.file,
            a.format,
            a.variant,
            a.graph_form,
            "dynamic" if a.batch is None else a.batch,
            a.bytes,
            a.max_abs_error,
            a.tolerance,
            a.extra.get("range_relative_error"),
            a.extra.get("p99_of_range"),
        ]
        for a in m.entries
    ]
    print(
        render(
            [
                "artifact",
                "format",
                "variant",
                "graph form",
                "batch",
                "bytes",
                "max abs err",
                "tolerance",
                "err/range",
                "p99/range",
            ],
            rows,
        )
    )
    for refusal in m.refusals:  # formats export left out for this model (the others are unaffected)
        print(f"refused  {refusal.format} {refusal.role}: {refusal.reason}")
    if "evaluation" in m.extra:
        _print_evaluation(m.extra["evaluation"])
    quant = m.quantization
    if quant:
        left_out = ", ".join(f"{_field(f, 'variant')} ({_field(f, 'format')})" for f in quant.failed) or "none"
        print(
            f"variants calibrated on {quant.calibration.get('windows', '?')} windows "
            f"({quant.calibration.get('source', '?')}), measured on {quant.holdout.get('windows', '?')} held-out; "
            f"not written: {left_out} (see --json: quantization)"
        )


def _field(entry: Any, key: str) -> Any:
    """entry[key] for display, '?' when the entry lacks it."""
    return entry.get(key, "?") if isinstance(entry, dict) else "?"


def _print_evaluation(evaluation: Any) -> None:
    """The stored metrics table; a malformed evaluation block is skipped with a note, not a traceback."""
    from .evaluation import metrics_table

    try:
        print(metrics_table(evaluation))
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        print("evaluation ? (the manifest's evaluation block is malformed; see --json)")
