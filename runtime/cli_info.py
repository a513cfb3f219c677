"""`edgernn info`: what a bundle holds, readable even when optional manifest blocks are odd."""
from __future__ import annotations

import json
from pathlib import Path

from .manifest import read_manifest
from .table import render


def print_info(bundle: Path, as_json: bool = False) -> int:
    """Print what a bundle holds (or its manifest as JSON); returns the exit code."""
    manifest = read_manifest(bundle)
    if as_json:
        print(json.dumps(manifest, indent=2))
        return 0
    inp, out = manifest["input"], manifest["output"]
    model = _block(manifest, "model")
    print(f"bundle   {bundle}  ({manifest.get('name', '')})")
    print(f"model    {model.get('cell', '?')}, {model.get('trainable_params', '?')} trainable params")
    print(f"input    (batch, {inp['timesteps']}, {inp['features']}) {inp.get('dtype', 'float32')}")
    print(f"output   (batch, {out['outputs']}){' per step' if out.get('sequence') else ''}")
    if "streaming" in manifest:
        states = ", ".join(f"{_field(s, 'name')}{_field(s, 'shape')}"
                           for s in _block(manifest, "streaming").get("states", []))
        print(f"stream   step(x_t, {states}) -> y_t, next states; initial state zeros")
    if manifest.get("feature_names"):
        print(f"columns  inputs {manifest['feature_names']} -> outputs {manifest.get('output_names')}")
    pre = manifest["preprocessing"]
    print(f"preproc  x_model = (x_raw - {pre['input']['offset']}) * {pre['input']['scale']}")
    rows = [[a["file"], a["format"], a["variant"], a.get("graph_form", ""), a.get("batch", ""), a["bytes"],
             a.get("max_abs_error"), a.get("tolerance"), a.get("range_relative_error")] for a in manifest["artifacts"]]
    print(render(["artifact", "format", "variant", "graph form", "batch", "bytes", "max abs err", "tolerance",
                  "err/range"], rows))
    if "evaluation" in manifest:
        _print_evaluation(manifest["evaluation"])
    quant = _block(manifest, "quantization")
    if quant:
        failed = quant.get("failed") if isinstance(quant.get("failed"), list) else []
        left_out = ", ".join(f"{_field(f, 'variant')} ({_field(f, 'format')})" for f in failed) or "none"
        calib, holdout = _block(quant, "calibration"), _block(quant, "holdout")
        print(f"variants calibrated on {calib.get('windows', '?')} windows ({calib.get('source', '?')}), "
              f"measured on {holdout.get('windows', '?')} held-out; not written: {left_out} (see --json: quantization)")
    return 0


def _block(parent: dict, key: str) -> dict:
    """An optional object in the manifest, {} when absent or not an object (info prints '?' for its fields)."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _field(entry: object, key: str) -> object:
    """entry[key] for display, '?' when the entry is not an object or lacks it; lists print as tuples."""
    value = entry.get(key, "?") if isinstance(entry, dict) else "?"
    return tuple(value) if isinstance(value, list) else value


def _print_evaluation(evaluation: object) -> None:
    """The stored metrics table; a malformed evaluation block is skipped with a note, not a traceback."""
    from .evaluation import metrics_table

    try:
        print(metrics_table(evaluation))
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        print("evaluation ? (the manifest's evaluation block is malformed; see --json)")
