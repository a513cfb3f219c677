"""Padded windows for models with a Masking layer: the proof and the golden vectors must hit the mask.

Random windows never equal `mask_value`, so a converter that ignores the mask would pass an
unpadded proof (an unrolled Bidirectional over a mask does differ from Keras: the proof finds it
and the next graph form is used). Each padded window masks a different span: the tail (padded
batches), the head (left padding), and a run in the middle.
"""

from __future__ import annotations

import numpy as np


def pad(windows: np.ndarray, mask_value: float) -> np.ndarray:
    """A copy of `windows` with rows masked by turns: none, the tail, the head, a middle run."""
    out = np.array(windows, copy=True)  # float32 windows, or int32 token ids (padded with id 0)
    steps = out.shape[1]
    cut = max(steps // 3, 1)
    for i in range(len(out)):
        span = (None, slice(steps - cut, None), slice(0, cut), slice(cut, min(2 * cut, steps)))[i % 4]
        if span is not None and steps > 1:
            out[i, span] = mask_value
    return out
