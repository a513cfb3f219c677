"""The reference a step model (or C's P_step) is proven against: Keras's sequence output on 10 x T samples.

Kept apart from streaming.py so that a format (export/formats/c/) can prove its own step function
without importing the module that imports the format registry.
"""

from __future__ import annotations

import numpy as np

from .model_info import ModelInfo, clone_with

PROOF_BATCHES = (1, 3)
PROOF_REPEATS = 10  # step 10 x T samples: past the trained length, where state drift would show


def sequence_reference(model):
    """A clone of `model` with every recurrent layer returning all steps and a free time axis.

    Its output on N samples is what stepping those samples from the zero state must give.
    """
    return clone_with(model, return_sequences=True, free_time=True)


def proof_cases(model, info: ModelInfo, seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Random samples (batch 1 and 3, 10 x T steps) and the sequence reference's per-step outputs."""
    reference = sequence_reference(model)
    rng = np.random.default_rng(seed)
    steps = PROOF_REPEATS * info.window_steps
    cases = []
    for batch in PROOF_BATCHES:
        xs = rng.uniform(-1, 1, (batch, steps, info.features)).astype(np.float32)
        cases.append((f"{steps} steps, batch {batch}", xs, np.asarray(reference(xs, training=False), np.float32)))
    return cases
