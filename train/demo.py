"""The main job on the seed task: train the three seed models, export, check, and measure."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgernn.export import ExportOptions, export_bundle
from edgernn.runtime import backends, load
from edgernn.runtime.cli.timing import per_call_us
from edgernn.runtime.manifest import Manifest
from edgernn.runtime.validate import validate

from .data import PROBES, SEED_SCALE, seed_dataset
from .fit import Recipe, train_recipe
from .models import trainable_params

BUNDLE_NAMES = {"simple_rnn": "seed-simplernn", "lstm": "seed-lstm", "gru": "seed-gru"}
QUANTIZE_CELLS = ("lstm",)  # one cell shows the quantized variants; the demo stays fast
DEMO_VARIANTS = ("dynamic", "float16", "int8")


def build_seed_bundle(cell: str, out_root: Path, epochs: int = 100, streaming: bool = True, quantize=()):
    """Train the seed recipe for `cell`, export it (with step models) as `out_root/seed-<cell>`; (model, path)."""
    x, y = seed_dataset()
    model, history = train_recipe(Recipe(cell=cell, epochs=epochs))
    probes = {name: [v for v in window] for name, (window, _) in PROBES.items()}
    extra = {
        "training": {
            "recipe": "seed",
            "epochs": epochs,
            "final_loss": float(history.history["loss"][-1]),
            "probes": probes,
        }
    }
    options = ExportOptions(scale=SEED_SCALE, representative=x, extra=extra, streaming=streaming, quantize=quantize)
    return model, export_bundle(model, out_root / BUNDLE_NAMES[cell], options).path


def keras_predict_us(model, window: np.ndarray, repeat: int = 5) -> float:
    """Median wall time of Keras `model.predict` on one window, in microseconds."""
    model.predict(window, verbose=0)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.predict(window, verbose=0)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def demo_row(cell: str, model, path: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": cell, "bundle": str(path), "params": trainable_params(model)}
    window = None
    floats = Manifest.read(Path(path)).artifacts(role="model", variant="float32")
    for name in backends.installed():
        if not any(backends.runs(name, a) for a in floats):  # e.g. the c backend: this bundle has no model.c
            continue
        predictor = load(path, backend=name)
        for probe, (values, _ideal) in PROBES.items():
            window = np.asarray(values, dtype=np.float32).reshape(1, -1, 1)
            row.setdefault(f"pred {probe}", float(predictor.predict(window)[0, 0]))
        row[f"{name} us"] = per_call_us(lambda: predictor.predict(window))["p50"]
    # the worst over the format's float32 artifacts (window and step models); variants have their own table
    for result in validate(path, variants=["float32"]):
        key = f"err {result.format}/{result.backend}"
        row[key] = max(row.get(key, 0.0), result.max_abs_error)
    row["keras predict us"] = keras_predict_us(model, window * SEED_SCALE)
    return row


def run_demo(
    out_root: str | Path = "out/demo",
    cells=("simple_rnn", "lstm", "gru"),
    epochs: int = 100,
    progress: Callable[[str], None] = print,
    quantize=DEMO_VARIANTS,
) -> list[dict[str, Any]]:
    """Train, export, check and time the seed models; returns one row per cell.

    The cells in QUANTIZE_CELLS also get the `quantize` variants (see `edgernn bench` for their table).
    """
    rows = []
    for cell in cells:
        progress(f"training and exporting {cell} ...")
        model, path = build_seed_bundle(
            cell, Path(out_root), epochs, quantize=quantize if cell in QUANTIZE_CELLS else ()
        )
        rows.append(demo_row(cell, model, path))
    return rows
