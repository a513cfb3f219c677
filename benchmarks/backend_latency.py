"""Batch-1 latency of every installed backend on the shipped seed bundles, measured in one run.

The `auto` backend rule (REGISTRY order) rests on these numbers. Each round times every backend
back to back (interleaved), and the best round is kept, so load from other processes on the
machine hits all backends alike; compare ratios within one run, not absolute numbers across runs.

    .venv/bin/python benchmarks/backend_latency.py            # prints a markdown table
"""

from __future__ import annotations

import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ("seed-simplernn", "seed-lstm", "seed-gru")


def _best_us(fn, number: int, rounds: int) -> list[float]:
    return [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=rounds)]


def measure(models: Path = ROOT / "models", number: int = 300, rounds: int = 7) -> list[dict]:
    """Rows: bundle, backend, raw backend call and Predictor.predict batch-1 latency (us, best round)."""
    from edgernn.runtime import Bundle, backends, load

    rows = []
    for seed in SEEDS:
        names = backends.installed_for(Bundle.open(models / seed).manifest)
        predictors = {n: load(models / seed, backend=n) for n in names}
        x = np.random.default_rng(0).uniform(0, 10, (1, predictors[names[0]].spec.timesteps, 1)).astype(np.float32)
        xm = (x * 0.1).astype(np.float32)
        raw = {n: [] for n in names}
        pred = {n: [] for n in names}
        for _ in range(rounds):  # interleaved: every backend once per round
            for n, p in predictors.items():
                raw[n] += _best_us(lambda: p.run_model_units(xm), number, 1)
                pred[n] += _best_us(lambda: p.predict(x), number, 1)
        for n in names:
            rows.append({"bundle": seed, "backend": n, "raw_us": min(raw[n]), "predict_us": min(pred[n])})
    return rows


def markdown(rows: list[dict]) -> str:
    """A table with one row per bundle and raw/predict columns per backend, plus ratios to the fastest."""
    names = list(dict.fromkeys(r["backend"] for r in rows))
    head = ["bundle"] + [f"{n} raw us" for n in names] + [f"{n} predict us" for n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for seed in dict.fromkeys(r["bundle"] for r in rows):
        by = {r["backend"]: r for r in rows if r["bundle"] == seed}
        fastest = min(by[n]["raw_us"] for n in names)
        cells = [seed] + [f"{by[n]['raw_us']:.1f} ({by[n]['raw_us'] / fastest:.1f}x)" for n in names]
        cells += [f"{by[n]['predict_us']:.1f}" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(measure()))
