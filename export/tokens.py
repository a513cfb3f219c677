"""Token-id models (an Embedding first): what export checks and feeds for them.

The artifacts take int32 ids shaped (batch, T); the proof and the golden vectors draw ids over the
whole vocabulary, with id 0 padding spans when the Embedding has mask_zero (export/padding.py), so a
converter that ignored the mask would fail the proof. Preprocessing maps do not apply to ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgernn.runtime.errors import ExportError

from .heads import refuse_streaming_and_variants
from .model_info import ModelInfo


def check_token_options(info: ModelInfo, options: Any) -> None:
    """ExportError for the options a token model cannot take: an input map, step models, quantized variants."""
    if not info.vocabulary:
        return
    why = f"the model takes int32 token ids (an Embedding of {info.vocabulary} ids) "
    for key in ("scale", "offset"):
        value = getattr(options, key)
        if value is not None and not np.all(np.asarray(value, np.float64) == (1.0 if key == "scale" else 0.0)):
            raise ExportError(
                f"{key}={value!r}: {why}and a preprocessing map does not apply to ids. "
                "Drop --scale/--offset (give --output-scale/--output-offset for the outputs)."
            )
    refuse_streaming_and_variants(options, why, "for token inputs")


def random_ids(rng: np.random.Generator, shape: tuple[int, ...], vocabulary: int) -> np.ndarray:
    """Ids drawn uniformly over [0, vocabulary) (every row of the table is reachable)."""
    return rng.integers(0, vocabulary, shape).astype(np.int32)
