"""Every core for big batches: one single-thread runner per thread, the batch split between them.

Used for LiteRT and numpy (onnxruntime uses its own intra-op pool, backends/ort.py). Measured on
this 2-core machine on an LSTM(64) batch of 1024: LiteRT's own num_threads split each small matmul
and gained 1.35x, whole halves of the batch on two interpreters 2.2x. LiteRT's invoke releases the
GIL (so do numpy's matmuls), so Python threads carry the halves. Batches under PARALLEL_ROWS run on
the first runner alone: batch-1 latency is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PARALLEL_ROWS = 128  # below this the hand-off (tens of microseconds) costs more than the split saves


class ParallelRunner:
    """A WindowRunner over `runners` (the same file opened several times); thread-safe like each of them."""

    def __init__(self, runners: Sequence) -> None:
        from concurrent.futures import ThreadPoolExecutor  # imported only when threads > 1

        first = runners[0]
        self.name, self.input_shape, self.output_shape = first.name, first.input_shape, first.output_shape
        self.threads = len(runners)
        self._runs = [r.run for r in runners]
        self._pool = ThreadPoolExecutor(max_workers=len(runners) - 1, thread_name_prefix="edgernn")
        self.runners = list(runners)

    def run(self, x: np.ndarray) -> np.ndarray:
        if len(x) < PARALLEL_ROWS:
            return self._runs[0](x)
        parts = np.array_split(x, len(self._runs))
        later = [self._pool.submit(run, part) for run, part in zip(self._runs[1:], parts[1:])]
        first = self._runs[0](parts[0])
        return np.concatenate([first, *(f.result() for f in later)])
