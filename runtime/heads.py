"""A Predictor for bundles with several outputs: `predict` returns {output name: array}.

The backends return the outputs packed (runtime/outputs.py); this class unpacks them by the manifest's
`output.heads`. Chosen once at load (runtime/bundle.py): a one-output bundle never loads it.
"""

from __future__ import annotations

from typing import Any

from .outputs import unpack
from .predictor import Predictor


class MultiPredictor(Predictor):
    """A Predictor whose `predict` returns {output name: array} (the bundle's manifest `output.heads`)."""

    def predict(self, x: Any, *, allow_nonfinite: bool = False, timeout: float | None = None) -> Any:
        """As `Predictor.predict`, but returns a dict by output name, each (batch, *that output's shape)."""
        y = super().predict(x, allow_nonfinite=allow_nonfinite, timeout=timeout)
        return y if isinstance(y, dict) else unpack(y, self.spec.heads)  # a guarded copy already unpacked


__all__ = ["MultiPredictor"]
