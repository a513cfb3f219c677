"""The seed comparison: each cell trained with the tutorial's recipe and with an improved one.

Seed recipe (the tutorial): the six windows [i..i+3]/10 -> (i+4)/10 for i = 0..5, 10 units, Adam
lr 1e-3, batch 32, 100 epochs. Both probes lie outside what it saw (6 7 8 9 continues past 9,
-1 0 1 2 starts below 0), so they test extrapolation from six examples.

Improved recipe: 256 windows whose start is drawn uniformly from [-10, 20) (real-valued, seeded, so
the exact probe windows are never in the training set, but their range is), the same model, Adam
lr 1e-2, at most 60 epochs with early stopping on validation loss (patience 20, best weights kept).
Its lesson is the tutorial's: the six windows are too few and too narrow.

Both recipes are measured on the same validation windows (integer starts -5..15) and probes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import PROBES, SEED_SCALE, seed_dataset
from .fit import Recipe, fit, make_deterministic
from .models import CELLS, build_model

TIMESTEPS = 4
VAL_STARTS = np.arange(-5, 16)
PLOT_STARTS = np.arange(-10, 26)


@dataclass(frozen=True)
class SeedRecipe:
    """A recipe of the comparison: training windows and fitting settings."""

    name: str
    recipe: Recipe
    windows: int
    start_range: tuple[float, float] | None = None  # None: the tutorial's integer starts 0..windows-1
    patience: int | None = None  # early stopping on validation loss when set


SEED = SeedRecipe("seed", Recipe(epochs=100, learning_rate=1e-3), windows=6)
IMPROVED = SeedRecipe(
    "improved", Recipe(epochs=60, learning_rate=1e-2), windows=256, start_range=(-10.0, 20.0), patience=20
)


@dataclass
class Result:
    """One cell trained with one recipe."""

    cell: str
    recipe: str
    windows: int
    epochs_run: int
    val_mae: float  # raw units
    probes: dict[str, float]
    history: dict[str, list[float]]
    curve: list[float] = field(default_factory=list)  # predictions (raw) for PLOT_STARTS

    def row(self) -> dict[str, Any]:
        out = {
            "cell": self.cell,
            "recipe": self.recipe,
            "windows": self.windows,
            "epochs": self.epochs_run,
            "val MAE": self.val_mae,
        }
        for probe, (_, ideal) in PROBES.items():
            out[f"pred {probe}"] = self.probes[probe]
            out[f"err {probe}"] = abs(self.probes[probe] - ideal)
        return out


def val_loss_callback(x: np.ndarray, y: np.ndarray):
    """Puts `val_loss` (MSE) into each epoch's logs on the validation windows.

    Keras' own `validation_data` costs about twice the CPU of the training step on these tiny sets
    (it builds an evaluation loop each epoch); one compiled predict_on_batch gives the same number for the curves
    and for EarlyStopping, which must come after it in the callback list.
    """
    import keras

    class ValLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                pred = np.asarray(self.model.predict_on_batch(x))
                logs["val_loss"] = float(np.mean((pred - y) ** 2))

    return ValLoss()


def windows_at(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed-task windows (model units) for arbitrary, possibly real-valued, starts."""
    s = np.asarray(starts, dtype=np.float32)
    x = (s[:, None] + np.arange(TIMESTEPS, dtype=np.float32)[None, :]) * SEED_SCALE
    return x[:, :, None].astype(np.float32), ((s + TIMESTEPS) * SEED_SCALE)[:, None].astype(np.float32)


def training_windows(spec: SeedRecipe, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if spec.start_range is None:
        return seed_dataset(spec.windows, TIMESTEPS)
    starts = np.random.default_rng(seed).uniform(*spec.start_range, spec.windows)
    return windows_at(starts)


def run_one(cell: str, spec: SeedRecipe, seed: int = 0, verbose: int = 0) -> Result:
    """Train `cell` with `spec` and measure validation MAE and the probes, in raw units."""
    return train_one(cell, spec, seed, verbose)[1]


def train_one(cell: str, spec: SeedRecipe, seed: int = 0, verbose: int = 0, epochs: int | None = None):
    """(model, Result): `cell` trained with `spec` (at most `epochs` epochs when given), measured in raw units."""
    import keras

    x, y = training_windows(spec, seed)
    val = windows_at(VAL_STARTS)
    recipe = Recipe(
        cell=cell,
        units=spec.recipe.units,
        epochs=min(spec.recipe.epochs, epochs or spec.recipe.epochs),
        learning_rate=spec.recipe.learning_rate,
        batch_size=spec.recipe.batch_size,
        seed=seed,
    )
    make_deterministic(seed)
    model = build_model(cell, recipe.units, timesteps=TIMESTEPS, seed=seed)
    callbacks = [val_loss_callback(*val)]
    if spec.patience:
        callbacks.append(keras.callbacks.EarlyStopping(patience=spec.patience, restore_best_weights=True))
    history = fit(model, x, y, recipe=recipe, callbacks=callbacks, verbose=verbose)
    probe_x = np.stack([np.asarray(w, dtype=np.float32) for w, _ in PROBES.values()])[:, :, None] * SEED_SCALE
    xs = np.concatenate([val[0], probe_x, windows_at(PLOT_STARTS)[0]])
    pred = model.predict(xs, verbose=0)[:, 0] / SEED_SCALE
    n_val, n_probe = len(VAL_STARTS), len(PROBES)
    return model, Result(
        cell=cell,
        recipe=spec.name,
        windows=len(x),
        epochs_run=len(history.history["loss"]),
        val_mae=float(np.abs(pred[:n_val] - val[1][:, 0] / SEED_SCALE).mean()),
        probes={name: float(v) for name, v in zip(PROBES, pred[n_val : n_val + n_probe])},
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
        curve=pred[n_val + n_probe :].tolist(),
    )


def compare(cells=CELLS, recipes=(SEED, IMPROVED), seed: int = 0, progress=print) -> list[Result]:
    """Every cell with every recipe, in that order."""
    results = []
    for cell in cells:
        for spec in recipes:
            progress(f"training {cell} with the {spec.name} recipe ({spec.windows} windows) ...")
            results.append(run_one(cell, spec, seed))
    return results
