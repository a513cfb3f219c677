"""`edgernn predict` helpers: the CLI's words in the non-finite error, and the stream plot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError


@contextlib.contextmanager
def cli_nonfinite_hint() -> Iterator[None]:
    """The library says `allow_nonfinite=True`; a command-line user needs `--allow-nonfinite`."""
    try:
        yield
    except InputError as exc:
        text = str(exc)
        if "allow_nonfinite=True" not in text:
            raise
        raise InputError(text.replace("pass allow_nonfinite=True", "pass --allow-nonfinite")) from None


def plot_stream(predictor, values, outputs, path: Path) -> Path:
    """The stream's answers against `predict` on each full window of the same samples."""
    from .figures import stream_figure

    spec = predictor.spec
    samples = np.asarray(values, dtype=np.float32).reshape(-1, spec.features)
    stream = np.stack([np.asarray(y).reshape(-1) for y in outputs])
    if len(samples) < spec.window_steps:
        raise InputError(
            f"--plot compares with full windows of {spec.window_steps} samples; got {len(samples)} samples. "
            f"Give at least {spec.window_steps}."
        )
    windows = np.stack([samples[i - spec.window_steps + 1 : i + 1] for i in range(spec.window_steps - 1, len(samples))])
    full = predictor.predict(windows, allow_nonfinite=True).reshape(len(windows), -1)
    return stream_figure(Path(predictor.path).name, samples, stream, full, spec.window_steps, path)
