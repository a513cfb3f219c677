"""Small timing helpers shared by the demo and the benchmarks."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def per_call_us(
    fn: Callable[[], object], *, warmup: int = 20, repeat: int = 200, max_seconds: float = 2.0
) -> dict[str, float]:
    """Latency percentiles of `fn()` in microseconds after a warm-up (stops early after max_seconds)."""
    for _ in range(warmup):
        fn()
    samples = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if t0 > deadline:
            break
    arr = np.asarray(samples) * 1e6
    return {
        "p50": float(np.percentile(arr, 50)),
        "p90": float(np.percentile(arr, 90)),
        "p99": float(np.percentile(arr, 99)),
        "n": len(arr),
    }
