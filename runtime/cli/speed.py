"""How close a batch run comes to the machine: throughput at 1 thread and at N, GFLOP/s, sgemm peak.

The peak is numpy's float32 1024x1024 matmul on every core (the BLAS numpy ships with), measured
in the same run as the model figures; achieved GFLOP/s = windows/s x 2 x multiply-adds per window
(the manifest's `compute` block, counted from the layer shapes at export).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..bundle import Bundle
from ..manifest import ArtifactEntry
from ..parallel import macs_per_window

BATCH = 1024


def sgemm_peak_gflops(n: int = 1024, seconds: float = 0.5) -> float:
    """Best GFLOP/s of an n x n float32 matmul (2 n^3 FLOPs) over repeated calls for about `seconds`."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    a @ b  # warm-up: thread pool start, page faults
    best, deadline = float("inf"), time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            return 2 * n**3 / best / 1e9


macs = macs_per_window  # multiply-adds per window from the manifest (None before it was counted)


def batch_throughput(bundle: Bundle, art: ArtifactEntry, backend: str, threads: int, x: np.ndarray) -> float:
    """Windows per second of Predictor.predict on `x` with `threads` runtime threads (best of a few calls)."""
    predictor = bundle.predictor(backend, artifact=art, threads=threads)
    predictor.predict(x)  # warm-up: allocation, thread pool start
    best, deadline, calls = float("inf"), time.perf_counter() + 0.5, 0
    while calls < 3 or (time.perf_counter() < deadline and calls < 20):
        t0 = time.perf_counter()
        predictor.predict(x)
        best, calls = min(best, time.perf_counter() - t0), calls + 1
    return len(x) / best


def scaling(
    bundle: Bundle, art: ArtifactEntry, backend: str, threads: int, one: float, peak: float | None, x: np.ndarray
) -> dict[str, Any]:
    """Throughput on the batch `x` at `threads` beside `one` (the 1-thread figure), and GFLOP/s against `peak`."""
    many = batch_throughput(bundle, art, backend, threads, x) if threads > 1 else one
    count = macs(bundle.manifest)
    gflops = max(one, many) * 2 * count / 1e9 if count else None
    return {
        "threads": threads,
        f"throughput_b{BATCH}_threads": many,
        "thread_speedup": many / one,
        "macs_per_window": count,
        "gflops_b1024": gflops,
        "sgemm_peak_gflops": peak,
        "peak_ratio": gflops / peak if gflops and peak else None,
    }
