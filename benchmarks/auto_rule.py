"""The evidence for the `auto` rule beyond the seed sizes: batch-1 raw latency of every backend on
bigger models (needs edgernn[train] to build and export them). Writes benchmarks/RESULTS-auto.md.

Each model is exported once (tflite, onnx, numpy); every round times every backend back to back,
and the best of 5 rounds is kept, so load from other processes hits all backends alike.

    .venv/bin/python benchmarks/auto_rule.py
"""

from __future__ import annotations

import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "RESULTS-auto.md"
CASES = [
    ("simple_rnn", 64, 32),
    ("gru", 64, 32),
    ("lstm", 10, 16),
    ("lstm", 64, 16),
    ("lstm", 128, 16),
    ("lstm", 64, 24),
    ("lstm", 10, 32),
    ("lstm", 32, 32),
    ("lstm", 64, 32),
    ("lstm", 10, 64),
    ("lstm", 32, 64),
]
BACKENDS = ("litert", "onnxruntime", "numpy")


def measure(cell: str, units: int, timesteps: int, root: Path, rounds: int = 5, number: int = 200) -> dict:
    """Best per-call raw backend time (us) of each backend on one freshly built model."""
    from edgernn.export import export_bundle
    from edgernn.runtime import backends, load
    from edgernn.train import build_model

    model = build_model(cell, units, timesteps=timesteps, features=1, outputs=1, seed=1)
    path = export_bundle(model, root / f"{cell}-{units}x{timesteps}").path
    predictors = {b: load(path, backend=b) for b in BACKENDS}
    x = np.random.default_rng(0).uniform(-1, 1, (1, timesteps, 1)).astype(np.float32)
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(rounds):
        for b, p in predictors.items():
            times[b].append(timeit.timeit(lambda: p.run_model_units(x), number=number) / number * 1e6)
    best = {b: min(v) for b, v in times.items()}
    from edgernn.runtime.manifest import Manifest

    best["auto"] = backends.auto_order(Manifest.read(path), BACKENDS)[0]
    return best


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell, units, steps in CASES:
            r = measure(cell, units, steps, Path(tmp))
            fastest = min(BACKENDS, key=r.get)
            rows.append(
                f"| {cell} | {units} | {steps} | "
                + " | ".join(f"{r[b]:.1f}" for b in BACKENDS)
                + f" | {fastest} | {r['auto']} |"
            )
            print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# The `auto` rule beyond the seed sizes",
            "",
            f"Written by benchmarks/auto_rule.py on {time.strftime('%Y-%m-%d', time.gmtime())}: batch-1 raw backend "
            "call (model units), best of 5 interleaved rounds of 200 calls, one feature, one output, "
            "shared 2-core machine.",
            "",
            "| cell | units | timesteps | litert us | onnxruntime us | numpy us | fastest | auto picks |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    tmp_out = OUT.with_suffix(".tmp")
    tmp_out.write_text(text, encoding="utf-8")
    tmp_out.replace(OUT)


if __name__ == "__main__":
    main()
