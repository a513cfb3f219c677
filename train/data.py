"""Datasets. The seed task is the classic next-number tutorial: windows [i..i+3]/10 -> (i+4)/10."""

from __future__ import annotations

import numpy as np

SEED_SCALE = 0.1  # the seed task's data are raw numbers times 0.1


def seed_dataset(count: int = 6, timesteps: int = 4, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's windows: x[i] = [i, ..., i+timesteps-1] / 10, y[i] = (i+timesteps) / 10.

    With the defaults this is exactly the classic six windows, x of shape (6, 4, 1), y of shape (6, 1).
    """
    idx = np.arange(start, start + count, dtype=np.float32)
    x = (idx[:, None] + np.arange(timesteps, dtype=np.float32)[None, :]) * SEED_SCALE
    y = (idx + timesteps) * SEED_SCALE
    return x[:, :, None].astype(np.float32), y[:, None].astype(np.float32)


def seed_sequence_dataset(count: int = 6, timesteps: int = 4, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The seed task in sequence-to-sequence form: at each step, predict the next number."""
    x, _ = seed_dataset(count, timesteps, start)
    return x, (x + SEED_SCALE).astype(np.float32)


SEED_SAMPLE_WINDOWS = 1280  # 80/20: 1,024 calibrate the quantized variants, 256 measure them
SEED_SAMPLE_STARTS = (-2.0, 8.0)  # raw units: spans both README probes (starts -1 and 6) with margin


def seed_task_sample(
    count: int = SEED_SAMPLE_WINDOWS, starts: tuple[float, float] = SEED_SAMPLE_STARTS, seed: int = 0
) -> np.ndarray:
    """The seed task's synthetic sample, raw units, shape (count, 4, 1): windows [s, s+1, s+2, s+3] with
    the start s uniform in `starts`. The seed bundles' quantized variants are calibrated on 80% of it
    and their errors stated on the other 20% (the tutorial's six windows span only [0, 0.8] in model
    units, so int8 clipped the probe 6 7 8 9)."""
    s = np.random.default_rng(seed).uniform(*starts, count).astype(np.float32)
    return (s[:, None] + np.arange(4, dtype=np.float32)[None, :])[:, :, None]


DATASETS = {"seed": seed_dataset, "seed_sequence": seed_sequence_dataset}
"""Named datasets a Recipe can ask for: 'seed' (window -> next value), 'seed_sequence' (next value at each step)."""


PROBES: dict[str, tuple[list[float], float]] = {
    "6 7 8 9": ([6.0, 7.0, 8.0, 9.0], 10.0),
    "-1 0 1 2": ([-1.0, 0.0, 1.0, 2.0], 3.0),
}
"""The tutorial's two probe windows in raw units, with the ideal next value."""
