"""edgernn.train: datasets, model builders and reproducible fitting (needs the 'train' extra)."""

from .data import DATASETS, PROBES, seed_dataset, seed_sequence_dataset
from .fit import SEED_RECIPE, SEED_SEQUENCE_RECIPE, Recipe, fit, make_deterministic, train_recipe
from .models import CELLS, build_model, cell_class, trainable_params
from .pipeline import SeriesJob, train_series
from .series import read_table
from .windows import prepare

__all__ = [
    "CELLS",
    "DATASETS",
    "PROBES",
    "Recipe",
    "SEED_RECIPE",
    "SEED_SEQUENCE_RECIPE",
    "build_model",
    "cell_class",
    "fit",
    "make_deterministic",
    "prepare",
    "read_table",
    "seed_dataset",
    "seed_sequence_dataset",
    "SeriesJob",
    "train_series",
    "train_recipe",
    "trainable_params",
]
