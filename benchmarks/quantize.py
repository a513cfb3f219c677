"""Quantized variants: size, error, batch-1 latency and batch-1024 throughput as ratios to float32.

Trains the acceptance model (LSTM(64) on (24, 3), sine task, 3 epochs) and the seed-lstm bundle
(the demo's recipe, calibrated on the seed task's synthetic sample), exports each with every
variant, then times each artifact x backend through `Predictor.predict` (raw floats in and out, so
int8 I/O conversion is included): batch 1 (p50) and batch 1024 (windows/s). Rounds are interleaved
and the median per cell is kept, because other jobs share the two cores: read the ratios, not the
microseconds.

    .venv/bin/python benchmarks/quantize.py [--out out/bench-quantize] [--results benchmarks/RESULTS-quantize.md]
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

ROUNDS = 5
CELLS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


def failures(path: Path) -> str:
    """The variants export refused, with its reason, and the forms it tried first."""
    import json

    man = json.loads((path / "manifest.json").read_text())
    lines = [f"- not written: {f['variant']} ({f['format']}): {f['reason']}" for f in man["quantization"]["failed"]]
    for a in man["artifacts"]:
        lines += [f"- {a['file']}: form refused first: {why}" for why in a.get("forms_refused", [])]
    return "\n".join(lines) or "- every requested variant was written"


def build_bundle(out: Path, cell: str = "lstm") -> tuple[Path, np.ndarray, np.ndarray]:
    from edgernn.export import export_bundle
    from edgernn.export.variants import VARIANTS
    from edgernn.train import build_model
    from edgernn.train.fit import Recipe, fit
    from edgernn.train.signals import sine_windows

    x, y = sine_windows(2000, seed=0)
    model = build_model(cell, 64, timesteps=24, features=3, seed=0)
    fit(model, x, y, recipe=Recipe(cell=cell, epochs=3, batch_size=64, seed=0))
    fresh, _ = sine_windows(1024, seed=99)
    path = export_bundle(model, out / f"{cell}64", representative=x, quantize=VARIANTS).path
    return path, fresh, np.asarray(model(fresh, training=False))


def build_seed(out: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """seed-lstm as `make models` writes it; fresh windows from the same synthetic sample (another seed)."""
    from edgernn.runtime import Bundle
    from edgernn.train.data import seed_task_sample
    from edgernn.train.demo import DEMO_VARIANTS, build_recipe_bundle

    model, path, _ = build_recipe_bundle("lstm", "seed", out, 100, DEMO_VARIANTS)
    spec = Bundle.open(path).manifest.spec
    fresh = seed_task_sample(1024, seed=99)
    ref = spec.y.to_raw(np.asarray(model(spec.x.to_model(fresh), training=False)))
    return path, fresh, np.asarray(ref, dtype=np.float32)


def measure(path: Path, fresh: np.ndarray, ref: np.ndarray) -> list[dict]:
    from edgernn.runtime import Bundle, backends
    from edgernn.runtime.cli.timing import per_call_us
    from edgernn.runtime.compare import output_range

    bundle = Bundle.open(path)
    cells = []
    for entry in bundle.manifest.artifacts(role="model"):
        art = entry.to_json()
        for name in backends.installed():
            if backends.runs(name, entry):
                p = bundle.predictor(name, artifact=entry)
                err = np.abs(p.predict(fresh) - ref)
                cells.append(
                    {
                        "art": art,
                        "backend": name,
                        "predictor": p,
                        "p50": [],
                        "wps": [],
                        "fresh_max_rel": float(err.max() / output_range(ref)),
                        "fresh_mean_abs": float(err.mean()),
                    }
                )
    x1 = fresh[:1]
    for _ in range(ROUNDS):
        for c in cells:
            c["p50"].append(per_call_us(lambda: c["predictor"].predict(x1), repeat=300)["p50"])
            c["wps"].append(len(fresh) / (per_call_us(lambda: c["predictor"].predict(fresh), repeat=2)["p50"] / 1e6))
    return cells


def table(cells: list[dict]) -> list[dict]:
    base = {c["art"]["format"]: c for c in cells if c["art"]["variant"] == "float32"}
    rows = []
    for c in cells:
        art, ref = c["art"], base[c["art"]["format"]]
        p50, ref_p50 = float(np.median(c["p50"])), float(np.median(ref["p50"]))
        wps, ref_wps = float(np.median(c["wps"])), float(np.median(ref["wps"]))
        rows.append(
            {
                "file": art["file"],
                "backend": c["backend"],
                "variant": art["variant"],
                "form": art.get("graph_form", ""),
                "bytes": art["bytes"],
                "size_ratio": art["bytes"] / ref["art"]["bytes"],
                "max_abs_err": art["max_abs_error"],
                "err_of_range_holdout": art.get("range_relative_error") or 0.0,
                "p99_of_range": art.get("p99_of_range"),
                "holdout": art.get("holdout_windows"),
                "err_of_range_fresh": c["fresh_max_rel"],
                "p50_us": p50,
                "latency_ratio": p50 / ref_p50,
                "wps": wps,
                "wps_ratio": wps / ref_wps,
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    head = [
        "artifact",
        "backend",
        "variant",
        "graph form",
        "bytes",
        "size / float32",
        "max abs err (held-out)",
        "held-out windows",
        "p99 err / range (held-out)",
        "max err / range (held-out)",
        "max err / range (fresh)",
        "batch-1 p50 us",
        "latency / float32",
        "batch-1024 windows/s",
        "throughput / float32",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(
            f"| {r['file']} | {r['backend']} | {r['variant']} | {r['form']} | {r['bytes']} | {r['size_ratio']:.1%} | "
            f"{r['max_abs_err']:.2e} | {r['holdout'] or '-'} | {_pct(r['p99_of_range'])} | "
            f"{r['err_of_range_holdout']:.3%} | {r['err_of_range_fresh']:.3%} | "
            f"{r['p50_us']:.1f} | {r['latency_ratio']:.2f} | {r['wps']:,.0f} | {r['wps_ratio']:.2f} |"
        )
    return "\n".join(lines)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.3%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/bench-quantize"))
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS-quantize.md"))
    args = parser.parse_args()
    md = ""
    for cell, title in CELLS.items():
        path, fresh, ref = build_bundle(args.out, cell)
        md += f"## {title}(64) on (24, 3)\n\n" + markdown(table(measure(path, fresh, ref))) + "\n\n"
        md += failures(path) + "\n\n"
    path, fresh, ref = build_seed(args.out)
    md += "## seed-lstm (the demo's bundle)\n\n" + markdown(table(measure(path, fresh, ref)))
    md += "\n\n" + failures(path)
    print(md)
    header = (
        "# Quantized variants: size, error, batch-1 latency and batch-1024 throughput relative to float32\n\n"
        f"Written by `benchmarks/quantize.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"({platform.machine()}, Python {platform.python_version()}, one thread). Models: LSTM, GRU and SimpleRNN "
        "(64 units) on (24, 3), sine task, 3 epochs; and seed-lstm (LSTM(10), the tutorial recipe), calibrated "
        "on 1,024 windows of the seed task's synthetic sample (train/data.py seed_task_sample) and measured "
        "on 256 others. Ratios are to the float32 file of the same format (size) and the float32 artifact on "
        "the same backend "
        f"(median of {ROUNDS} interleaved rounds: batch-1 p50 and batch-1024 windows/s through `Predictor.predict`). "
        "Errors: per-window max abs error on the export's held-out windows (p99 and max, as shares of the Keras "
        "output range) and the max on 1,024 fresh windows of the same distribution. The machine is shared, so "
        "microseconds are noisy; ratios less so. `int8-float-tail` is int8 except each recurrent layer's last "
        "step and the head (float32); `tflm` and `tflm-int8` are the batch-1 files for TensorFlow Lite Micro "
        "(run row by row; their throughput is not a CPU target).\n\n"
    )
    args.results.write_text(header + md + "\n", encoding="utf-8")
    print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
