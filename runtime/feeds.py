"""A Predictor for bundles with several inputs: `predict` takes {input name: array} or a list in order.

The backends take the inputs packed (runtime/inputs.py); this class packs them by the manifest's
`input.inputs`. Chosen once at load (runtime/bundle.py): a one-input bundle never loads it, so the
one-input hot path carries no branch for it.
"""

from __future__ import annotations

from typing import Any

from .inputs import pack_inputs
from .predictor import Predictor


class InputsPredictor(Predictor):
    """A Predictor whose `predict` takes one array per input (the bundle's manifest `input.inputs`)."""

    def predict(self, x: Any, *, allow_nonfinite: bool = False, timeout: float | None = None) -> Any:
        """As `Predictor.predict`, with `x` a dict {input name: array} or a list/tuple in the manifest's order.

        Each array is (batch, *that input's shape) in model units; every input has the same batch.

        Raises:
            InputError: one array, a missing, unknown or misshaped input (the message names each expected one).

        Example:
            >>> p.predict({"seq": np.zeros((1, 5, 3)), "static": np.zeros((1, 4))})
        """
        if (allow_nonfinite or timeout is not None) and self._guard:
            return self._guarded(allow_nonfinite, timeout).predict(x, allow_nonfinite=allow_nonfinite)
        return Predictor.predict(self, pack_inputs(x, self.spec.inputs), allow_nonfinite=allow_nonfinite)


__all__ = ["InputsPredictor"]
