"""The reference a step model (or C's P_step) is proven against: Keras's sequence output on 10 x T samples.

Kept apart from streaming.py so that a format (export/formats/c/) can prove its own step function
without importing the module that imports the format registry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model_info import ModelInfo, clone_with

PROOF_BATCHES = (1, 3)
PROOF_REPEATS = 10  # step 10 x T samples: past the trained length, where state drift would show


def sequence_reference(model):
    """A clone of `model` with every recurrent layer returning all steps and a free time axis.

    Its output on N samples is what stepping those samples from the zero state must give.
    """
    return clone_with(model, return_sequences=True, free_time=True)


def proof_cases(model, info: ModelInfo, seed: int, block=None) -> list[tuple[str, Any, np.ndarray]]:
    """Random samples (batch 1 and 3, 10 x T steps) and the sequence reference's per-step outputs.

    A model whose states start from inputs (initial_state=, the StreamingBlock `block` says which) gets
    random initial states too: each case's inputs are then (samples, the states in the block's order)."""
    reference = sequence_reference(model)
    rng = np.random.default_rng(seed)
    steps = PROOF_REPEATS * info.window_steps
    features = info.features if not info.inputs else next(p.shape[1] for p in info.inputs if len(p.shape) == 2)
    cases = []
    for batch in PROOF_BATCHES:
        xs = rng.uniform(-1, 1, (batch, steps, features)).astype(np.float32)
        if not info.inputs:
            cases.append((f"{steps} steps, batch {batch}", xs, np.asarray(reference(xs, training=False), np.float32)))
            continue
        states = [rng.uniform(-1, 1, (batch, s.size)).astype(np.float32) for s in block.states]
        given = {s.initial: v for s, v in zip(block.states, states)}
        feed = [given.get(t._keras_history.operation.name, xs) for t in model.inputs]
        states = [v if s.initial != "zeros" else np.zeros_like(v) for s, v in zip(block.states, states)]
        label = f"{steps} steps from given initial states, batch {batch}"
        cases.append((label, (xs, states), np.asarray(reference(feed, training=False), np.float32)))
    return cases
