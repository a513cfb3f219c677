"""Reproducible fitting: the same seed gives the same weights on CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Recipe:
    """How to build and fit a model; the seed recipe is the classic tutorial's."""

    cell: str = "simple_rnn"
    units: tuple[int, ...] = (10,)
    epochs: int = 100
    learning_rate: float = 0.001
    batch_size: int = 32
    seed: int = 0
    data: str = "seed"  # a name in edgernn.train.data.DATASETS; 'seed_sequence' trains a per-step model
    extra: dict = field(default_factory=dict)


SEED_RECIPE = Recipe()
SEED_SEQUENCE_RECIPE = Recipe(cell="lstm", data="seed_sequence")
"""The seed task in sequence-to-sequence form: return_sequences=True, the head applied at every step."""


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TF and ask TF for deterministic kernels."""
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # older TF: the env var above is the fallback
        pass


def fit(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    recipe: Recipe = SEED_RECIPE,
    validation=None,
    callbacks=None,
    verbose: int = 0,
):
    """Compile with adam + mse and fit; returns the Keras History.

    Shuffling uses the recipe's seed, so two calls with the same seed and data give the same weights.
    """
    import keras

    make_deterministic(recipe.seed)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss="mse")
    return model.fit(
        x,
        y,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        validation_data=validation,
        callbacks=callbacks or [],
        verbose=verbose,
        shuffle=True,
    )


def train_recipe(recipe: Recipe = SEED_RECIPE, x=None, y=None, verbose: int = 0):
    """Build and fit a model for a recipe on (x, y) (default: the recipe's dataset). Returns (model, history).

    A 3-D y (batch, timesteps, outputs) builds a sequence-to-sequence model (return_sequences=True).
    """
    from .data import DATASETS
    from .models import build_model

    if x is None:
        if recipe.data not in DATASETS:
            raise ValueError(f"unknown dataset {recipe.data!r}; expected one of {sorted(DATASETS)}.")
        x, y = DATASETS[recipe.data]()
    make_deterministic(recipe.seed)
    model = build_model(
        recipe.cell,
        recipe.units,
        timesteps=x.shape[1],
        features=x.shape[2],
        outputs=y.shape[-1],
        seed=recipe.seed,
        return_sequences=y.ndim == 3,
        **recipe.extra,
    )
    history = fit(model, x, y, recipe=recipe, verbose=verbose)
    return model, history
