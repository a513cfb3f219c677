"""A series file to a bundle: read, window, fit with early stopping, export, measure on the test split.

The test-split metrics are measured twice over: Keras on the model-unit windows (mapped back to raw
units), and every artifact x installed backend through the shipped runtime on the raw windows. They
are written into the manifest (`evaluation`) with the training record (`training`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .fit import Recipe, fit, make_deterministic
from .series import read_table, select
from .windows import SeriesData, prepare

PATIENCE = 20
KEEP_PREDICTIONS = 1000  # test predictions stored in the manifest for plots (the last ones if more)


@dataclass(frozen=True)
class SeriesJob:
    """What `edgernn train --data FILE` asks for."""

    data: str
    columns: Sequence[str] | None = None
    targets: Sequence[str] | None = None
    timesteps: int = 12
    horizon: int = 1
    recipe: Recipe = Recipe(epochs=200)
    patience: int = PATIENCE
    streaming: bool = False  # also write step models (export/streaming.py)
    date_format: str | None = None  # strptime format of the date column; None: inferred per column


def load_series(job: SeriesJob, note=print) -> SeriesData:
    """Read and window the job's file; notes say which columns were skipped and how many rows dropped."""
    table = read_table(job.data, job.date_format)
    inputs, targets = select(table, job.columns, job.targets)
    skipped = {n: k for n, k in table.skipped().items() if n not in inputs and n not in targets}
    for name, kind in skipped.items():
        note(
            f"note: column {name!r} skipped ({kind}); name it in --columns to use it"
            if kind == "time index"
            else f"note: column {name!r} skipped ({kind})"
        )
    data = prepare(table, inputs, targets, job.timesteps, job.horizon)
    if data.info["rows_dropped_missing"]:
        note(
            f"note: {data.info['rows_dropped_missing']} of {table.rows} rows dropped for missing values "
            f"({data.info['runs']} complete runs); windows never span a dropped row"
        )
    if data.info["time_gaps"]:
        note(
            f"note: {data.info['time_gaps']} gaps in the time column {data.info['clock']!r} (a step over 1.5 x the "
            "usual one); windows never span them"
        )
    split = data.info["split"]
    note(
        "windows: "
        + ", ".join(f"{p} {split[p]['windows']}" for p in split)
        + f"  (inputs {inputs}, target {targets}, T={job.timesteps}, H={job.horizon})"
    )
    data.info["skipped_columns"] = skipped
    data.info["date_formats"] = table.date_formats
    return data


def fit_series(job: SeriesJob, data: SeriesData, verbose: int | None = None):
    """Build and fit the model; early stopping on validation loss keeps the best weights. Returns (model, history)."""
    import keras

    from .models import build_model

    recipe = job.recipe
    make_deterministic(recipe.seed)
    model = build_model(
        recipe.cell,
        recipe.units,
        timesteps=data.timesteps,
        features=len(data.inputs),
        outputs=len(data.targets),
        seed=recipe.seed,
        **recipe.extra,
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=job.patience, restore_best_weights=True)
    x, y = data.model_units("train")
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    history = fit(model, x, y, recipe=recipe, validation=data.model_units("val"), callbacks=[stop], verbose=verbose)
    return model, history


def errors(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, list[float]]:
    """MAE and RMSE per target column, in the units given."""
    diff = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return {"mae": np.abs(diff).mean(axis=0).tolist(), "rmse": np.sqrt((diff**2).mean(axis=0)).tolist()}


def evaluate(bundle: Path, model, data: SeriesData, part: str = "test") -> dict[str, Any]:
    """Metrics in raw units on one split: Keras, every artifact x installed backend, and a last-value baseline."""
    from edgernn.runtime import Bundle, backends

    w = data.parts[part]
    opened = Bundle.open(bundle)
    keras_raw = data.y_norm.to_raw(model.predict(data.x_norm.to_model(w.x), verbose=0))
    rows = [{"source": "keras", "backend": "keras", **errors(w.y, keras_raw)}]
    for art in opened.manifest.artifacts(role="model"):  # step models are proven at export; metrics are per window
        for name in backends.installed():
            if not backends.runs(name, art):
                continue
            pred = opened.predictor(name, artifact=art).predict(w.x)
            rows.append(
                {
                    "source": art.file,
                    "backend": name,
                    **errors(w.y, pred),
                    "max_abs_diff_vs_keras": float(np.abs(pred - keras_raw).max()),
                }
            )
    if all(t in data.inputs for t in data.targets):  # persistence: the target's last value in the window
        last = w.x[:, -1, [data.inputs.index(t) for t in data.targets]]
        rows.append({"source": "baseline: last value", "backend": "-", **errors(w.y, last)})
    keep = slice(-KEEP_PREDICTIONS, None)
    return {
        "split": part,
        "windows": len(w),
        "units": "raw",
        "targets": data.targets,
        "rows": rows,
        "predictions": {"row": w.rows[keep].tolist(), "y_true": w.y[keep].tolist(), "keras": keras_raw[keep].tolist()},
    }


def training_record(job: SeriesJob, data: SeriesData, history) -> dict[str, Any]:
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    best = int(np.argmin(hist["val_loss"])) + 1 if hist.get("val_loss") else len(hist["loss"])
    r = job.recipe
    return {
        "recipe": {
            "cell": r.cell,
            "units": list(r.units),
            "epochs": r.epochs,
            "learning_rate": r.learning_rate,
            "batch_size": r.batch_size,
            "seed": r.seed,
            "early_stopping_patience": job.patience,
        },
        "data": {"file": Path(job.data).name, "columns": data.inputs, "targets": data.targets, **data.info},
        "timesteps": data.timesteps,
        "horizon": data.horizon,
        "epochs_run": len(hist["loss"]),
        "best_epoch": best,
        "history": hist,
    }


def write_manifest_keys(bundle: Path, keys: dict[str, Any]) -> None:
    """Add top-level keys to manifest.json atomically (the manifest is not part of the hashed files)."""
    from edgernn.export.atomic import write_file
    from edgernn.runtime.frozen import replace  # the manifest's records are runtime/frozen.py records
    from edgernn.runtime.manifest import MANIFEST_FILE, Manifest

    manifest = Manifest.read(bundle)
    manifest = replace(manifest, extra={**manifest.extra, **keys})
    write_file(bundle / MANIFEST_FILE, manifest.dumps())


def train_series(
    job: SeriesJob, out: str | Path, note=print, verbose: int | None = None
) -> tuple[Path, dict[str, Any]]:
    """Read, fit, export and evaluate. Returns (bundle path, the evaluation block).

    Raises:
        InputError: the data cannot make windows (see `edgernn.train.windows.prepare`).
        ExportError: an artifact failed parity (nothing written then).
    """
    from edgernn.export import export_bundle
    from edgernn.export.atomic import staging_dir

    data = load_series(job, note)
    model, history = fit_series(job, data, verbose)
    record = training_record(job, data, history)
    x_train, _ = data.model_units("train")
    # Export, evaluate and record the metrics in a staging folder, then swap it in whole: a failed
    # evaluation must not leave a replaced bundle without its metrics.
    with staging_dir(Path(out)) as tmp:
        export_bundle(
            model,
            tmp,
            name=Path(out).name,
            scale=data.x_norm.scale.tolist(),
            offset=data.x_norm.offset.tolist(),
            output_scale=data.y_norm.scale.tolist(),
            output_offset=data.y_norm.offset.tolist(),
            representative=x_train,
            streaming=job.streaming,
            extra={"training": record, "feature_names": data.inputs, "output_names": data.targets},
        )
        evaluation = evaluate(tmp, model, data)
        check_raw_parity(tmp, evaluation, data)
        write_manifest_keys(tmp, {"evaluation": evaluation})
    return Path(out), evaluation


def check_raw_parity(bundle: Path, evaluation: dict[str, Any], data: SeriesData) -> None:
    """End to end, preprocessing included: each artifact's raw-unit answers vs Keras, in model units."""
    from edgernn.runtime.errors import ExportError
    from edgernn.runtime.manifest import Manifest

    tolerance = {a.file: a.tolerance for a in Manifest.read(bundle).entries}
    scale = float(np.max(np.abs(data.y_norm.scale)))
    for row in evaluation["rows"]:
        diff = row.get("max_abs_diff_vs_keras")
        if diff is not None and diff * scale > tolerance[row["source"]]:
            raise ExportError(
                f"{row['source']} in {row['backend']}: raw-unit answers differ from Keras by {diff:.3g} "
                f"({diff * scale:.3g} in model units, tolerance {tolerance[row['source']]:.3g}); not written."
            )
