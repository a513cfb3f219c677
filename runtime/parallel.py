"""Every core for big batches: one single-thread runner per thread, the batch split between them.

Used for LiteRT and numpy (onnxruntime uses its own intra-op pool, backends/ort.py). Measured on
this 2-core machine on an LSTM(64) batch of 1024: LiteRT's own num_threads split each small matmul
and gained 1.35x, whole halves of the batch on two interpreters 2.2x. LiteRT's invoke releases the
GIL (so do numpy's matmuls), so Python threads carry the halves. Batches under PARALLEL_ROWS, or
under PARALLEL_MACS of work (the manifest's multiply-adds per window), run on the first runner
alone: batch-1 latency is unchanged, and a seed-size batch of 1024 (1.8 M multiply-adds, ~0.1 ms)
is not split, which cost it 0.78x.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .manifest import Manifest

PARALLEL_ROWS = 128  # below this the hand-off (tens of microseconds) costs more than the split saves
PARALLEL_MACS = 8_000_000  # multiply-adds per call below which the same holds (~0.1 ms on one core here)


def macs_per_window(manifest: Manifest) -> int | None:
    """Multiply-adds per window from the manifest's `compute` block (None for bundles written before it)."""
    block = manifest.extra.get("compute", {})
    value = block.get("macs_per_window") if isinstance(block, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def min_rows(macs_per_window: int | None) -> int:
    """The smallest batch worth splitting, from the work per window when the manifest counts it."""
    if not macs_per_window:
        return PARALLEL_ROWS
    return max(PARALLEL_ROWS, -(-PARALLEL_MACS // macs_per_window))


class ParallelRunner:
    """A WindowRunner over `runners` (the same file opened several times); thread-safe like each of them."""

    def __init__(self, runners: Sequence, rows: int = PARALLEL_ROWS) -> None:
        from concurrent.futures import ThreadPoolExecutor  # imported only when threads > 1

        first = runners[0]
        self.name, self.input_shape, self.output_shape = first.name, first.input_shape, first.output_shape
        self.threads, self.rows = len(runners), rows
        self._runs = [r.run for r in runners]
        self._pool = ThreadPoolExecutor(max_workers=len(runners) - 1, thread_name_prefix="edgernn")
        self.runners = list(runners)

    def run(self, x: np.ndarray) -> np.ndarray:
        if len(x) < self.rows:
            return self._runs[0](x)
        parts = np.array_split(x, len(self._runs))
        later = [self._pool.submit(run, part) for run, part in zip(self._runs[1:], parts[1:])]
        first = self._runs[0](parts[0])
        return np.concatenate([first, *(f.result() for f in later)])
