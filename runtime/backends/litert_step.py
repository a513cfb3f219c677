"""LiteRT step models: the sample and each state as named tensors, one invoke per step.

Opened by litert.open_step; the public Interpreter (its SignatureRunner names the tensors), never the
wrapper-made one of litert_open.py.
"""

from __future__ import annotations

from _thread import allocate_lock
from collections.abc import Sequence

import numpy as np

from ..errors import ModelLoadError
from ..manifest import ArtifactEntry
from .litert_open import BUSY_SECONDS, NAME, _busy, interpreter, vet


class LiteRTStepBackend:
    """A step model: several named inputs and outputs (the sample and each state), any batch.

    Names come from the file's signature; tensors are then set and read by index, which costs
    less per step than a SignatureRunner call. Calls hold the lock: many streams share one.
    """

    name = NAME

    def __init__(self, content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        vet(content, entry.file)
        self._content, self._file = content, entry.file
        self._names = (list(inputs), list(outputs))
        self._lock = allocate_lock()
        self._build()

    def _build(self) -> None:
        self._interp = interpreter(self._content, self._file, native=False)  # its signature runner names the tensors
        try:
            runner = self._interp.get_signature_runner()
        except Exception as exc:  # no signature: not a step model edgernn wrote
            raise ModelLoadError(
                f"{self._file}: the step model has no signature ({exc}); re-export with --streaming."
            ) from None
        ins, outs = runner.get_input_details(), runner.get_output_details()
        del runner  # it holds tensor views, which would block resize_tensor_input
        missing = [n for n in self._names[0] if n not in ins] + [n for n in self._names[1] if n not in outs]
        if missing:
            raise ModelLoadError(
                f"{self._file}: the step model lacks tensors {missing} named in the manifest (it has inputs "
                f"{sorted(ins)}, outputs {sorted(outs)}); re-export the bundle with --streaming."
            )
        self._ins = [(int(ins[n]["index"]), int(ins[n]["shape"][1])) for n in self._names[0]]
        self._outs = [int(outs[n]["index"]) for n in self._names[1]]
        # Widths in the order of the names: StepModel.load checks them against the manifest.
        self.step_widths = ([w for _, w in self._ins], [int(outs[n]["shape"][-1]) for n in self._names[1]])
        self._batch = int(ins[self._names[0][0]]["shape"][0])

    def _resize_all(self, batch: int) -> None:
        for index, width in self._ins:
            self._interp.resize_tensor_input(index, [batch, width])
        self._interp.allocate_tensors()
        self._batch = batch

    def run_step(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one step: float32 arrays in the order of `inputs`; returns arrays in the order of `outputs`."""
        if not self._lock.acquire(True, BUSY_SECONDS):
            _busy(self._file, BUSY_SECONDS)
        try:
            interp = self._interp  # read under the lock: a failed call by another thread may have rebuilt it
            try:
                if arrays[0].shape[0] != self._batch:
                    self._resize_all(arrays[0].shape[0])
                for (index, _), value in zip(self._ins, arrays):
                    interp.set_tensor(index, value)
                interp.invoke()
                return [interp.get_tensor(index) for index in self._outs]
            except Exception:
                self._build()
                raise
        finally:
            self._lock.release()
