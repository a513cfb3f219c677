"""Streaming benchmark: does a step cost the same after 4,096 steps, and what does it save over windows?

Writes benchmarks/RESULTS-streaming.md. Run: .venv/bin/python benchmarks/streaming.py [--quick]

1. Equivalence: stepping N samples (N = T and 10 x T) in each runtime vs Keras with return_sequences=True.
2. Per-step latency after 4 and after 4,096 steps (target ratio <= 1.1): one stream is reset every 4
   steps, the other was stepped 4,096 times first; their timed steps are interleaved so machine noise
   (other jobs share the 2 cores) hits both alike. Medians.
3. Stepping vs re-running a window per new sample, T = 4, 32, 128: `stream.step(x)` vs shifting the
   window and `predictor.predict(window)`, timed in alternating blocks of 50 calls. Ratios of
   medians, measured in one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from edgernn.export import export_bundle  # noqa: E402
from edgernn.runtime import backends, load  # noqa: E402
from edgernn.train import CELLS, build_model  # noqa: E402

OUT = Path(__file__).resolve().parent / "RESULTS-streaming.md"


def median_us(samples: list[int]) -> float:
    return float(np.median(samples)) / 1e3


def equivalence(root: Path) -> list[list]:
    """Max abs error of stepping vs Keras (return_sequences=True, free time axis), per cell x backend x N."""
    rows = []
    for cell in CELLS:
        for sequence in (False, True):
            model = build_model(cell, (6, 5), timesteps=4, return_sequences=sequence, seed=3)
            ref = build_model(cell, (6, 5), timesteps=None, return_sequences=True)
            ref.set_weights(model.get_weights())
            bundle = export_bundle(model, root / f"eq-{cell}-{sequence}", streaming=True).path
            for n in (4, 40):
                xs = np.random.default_rng(n).uniform(-1, 1, (4, n, 1)).astype(np.float32)
                expected = np.asarray(ref(xs))
                for name in backends.installed():
                    stream = load(bundle, backend=name).stream(batch=4)
                    got = np.stack([stream.step(xs[:, t]) for t in range(n)], axis=1)
                    kind = "sequence" if sequence else "window"
                    rows.append([f"{cell} 6+5 {kind}", name, n, f"{np.abs(got - expected).max():.2e}"])
    return rows


def after_steps(predictor, rounds: int, long_steps: int = 4096) -> tuple[float, float]:
    """Median per-step latency (us) of a stream at step 5 vs one past `long_steps` steps."""
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 1, (256, predictor.spec.features)).astype(np.float32)
    short, long = predictor.stream(), predictor.stream()
    for i in range(long_steps):
        long.step(xs[i % 256])
    t_short, t_long = [], []
    for r in range(rounds):
        short.reset()
        for i in range(4):
            short.step(xs[i])
        x = xs[r % 256]
        t0 = time.perf_counter_ns()
        short.step(x)
        t1 = time.perf_counter_ns()
        long.step(x)
        t2 = time.perf_counter_ns()
        t_short.append(t1 - t0)
        t_long.append(t2 - t1)
    return median_us(t_short), median_us(t_long)


def step_vs_window(predictor, rounds: int, block: int = 50) -> tuple[float, float]:
    """Median cost (us) of one new sample: a stream step vs shifting the window and predicting it.

    Timed in alternating blocks of `block` calls, so each side runs with its own model warm in cache
    (a long window evicts the step model) and machine noise still hits both alike.
    """
    spec = predictor.spec
    rng = np.random.default_rng(1)
    xs = rng.uniform(0, 1, (256, spec.features)).astype(np.float32)
    window = rng.uniform(0, 1, (1, spec.timesteps, spec.features)).astype(np.float32)
    stream = predictor.stream()
    for i in range(20):  # warm-up both
        stream.step(xs[i])
        predictor.predict(window)
    t_step, t_window = [], []
    for r in range(0, rounds, block):
        for i in range(r, r + block):
            x = xs[i % 256]
            t0 = time.perf_counter_ns()
            stream.step(x)
            t_step.append(time.perf_counter_ns() - t0)
        for i in range(r, r + block):
            x = xs[i % 256]
            t0 = time.perf_counter_ns()
            window[0, :-1] = window[0, 1:]
            window[0, -1] = x
            predictor.predict(window)
            t_window.append(time.perf_counter_ns() - t0)
    return median_us(t_step), median_us(t_window)


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, T = 4 and 32 only, LSTM only")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rounds = 300 if args.quick else 2000
    lengths = (4, 32) if args.quick else (4, 32, 128)
    cells = ("lstm",) if args.quick else CELLS
    names = backends.installed()
    root = Path(tempfile.mkdtemp(prefix="edgernn-stream-bench-"))

    print("equivalence ...", file=sys.stderr)
    eq_rows = equivalence(root)

    drift_rows, window_rows = [], []
    for cell in cells:
        for t in lengths:
            print(f"{cell} T={t} ...", file=sys.stderr)
            model = build_model(cell, 10, timesteps=t, seed=0)
            bundle = export_bundle(model, root / f"{cell}-{t}", streaming=True).path
            for name in names:
                predictor = load(bundle, backend=name)
                if t == 4:
                    a, b = after_steps(predictor, rounds)
                    drift_rows.append([cell, name, f"{a:.1f}", f"{b:.1f}", f"{b / a:.3f}"])
                s, w = step_vs_window(predictor, rounds)
                window_rows.append([cell, t, name, f"{s:.1f}", f"{w:.1f}", f"{w / s:.2f}"])

    text = (
        "\n\n".join(
            [
                "# Streaming benchmark (benchmarks/streaming.py)",
                f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                "shared with other "
                "jobs, so absolute times are noisy; ratios are measured within one run, timed calls interleaved. "
                f"Models: 1 layer of 10 units + Dense(1), seeded weights; {rounds} timed rounds per row; "
                "batch 1; medians.",
                "## Equivalence: stepping N samples vs Keras with return_sequences=True "
                "(max abs error, batch 4, model units)",
                table(["model", "backend", "N", "max abs error"], eq_rows),
                "## Per-step latency after 4 and after 4,096 steps (target ratio <= 1.1)",
                table(["cell", "backend", "us at step 5", "us after 4,096", "ratio"], drift_rows),
                "## One new sample: stream.step vs shifting the window and predict (ratio = window / step)",
                'The window side uses the bundle\'s own graph forms (see README "Graph forms"); the step model is the '
                "same for every T, so its column shows the noise of the machine.",
                table(["cell", "T", "backend", "step us", "window us", "ratio"], window_rows),
            ]
        )
        + "\n"
    )
    print(text)
    args.out.write_text(text, encoding="utf-8")
    shutil.rmtree(root, ignore_errors=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
