"""A synthetic multichannel task for quantization checks: noisy sines, predict channel 0's next value.

Windows of (timesteps, features) sines with random frequency, phase and amplitude per channel, plus
noise; the target is channel 0 one step after the window. Outputs span about [-1.5, 1.5], so a
range-relative error means something, and fresh windows come from the same distribution.
"""

from __future__ import annotations

import numpy as np


def sine_windows(count: int, timesteps: int = 24, features: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return x (count, timesteps, features) and y (count, 1), float32, already in model units."""
    rng = np.random.default_rng(seed)
    t = np.arange(timesteps + 1, dtype=np.float64)[None, :, None]
    freq = rng.uniform(0.1, 0.5, (count, 1, features))
    phase = rng.uniform(0, 2 * np.pi, (count, 1, features))
    amp = rng.uniform(0.5, 1.5, (count, 1, features))
    signal = amp * np.sin(freq * t + phase) + 0.05 * rng.standard_normal((count, timesteps + 1, features))
    return signal[:, :timesteps].astype(np.float32), signal[:, timesteps, :1].astype(np.float32)
