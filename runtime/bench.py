"""Benchmarks of a bundle: size and batch-1 latency per artifact x backend."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from . import backends
from .manifest import read_manifest
from .predictor import load
from .stream import STEP_ROLE
from .table import render
from .timing import per_call_us


def bench(path: str | Path, backend_names: Sequence[str] | None = None) -> list[dict]:
    """One row per (artifact, backend): bytes and batch-1 latency percentiles of Predictor.predict
    (of Stream.step for step models)."""
    bundle = Path(path)
    manifest = read_manifest(bundle)
    names = list(backend_names) if backend_names else backends.installed()
    rng = np.random.default_rng(0)
    rows = []
    for art in manifest["artifacts"]:
        for name in names:
            if art["format"] not in backends.formats_of(name):
                continue
            predictor = load(bundle, backend=name, variant=art["variant"])
            spec = predictor.spec
            x = rng.uniform(0, 1, (1, spec.timesteps, spec.features)).astype(np.float32)
            if art.get("role") == STEP_ROLE:  # a step model: the latency of one streamed sample
                stream, x_t = predictor.stream(), x[0, 0]
                lat = per_call_us(lambda: stream.step(x_t))
            else:
                lat = per_call_us(lambda: predictor.predict(x))
            rows.append({"file": art["file"], "variant": art["variant"], "backend": name, "bytes": art["bytes"],
                         "p50_us": lat["p50"], "p90_us": lat["p90"], "p99_us": lat["p99"]})
    return rows


def bench_command(args) -> int:
    rows = bench(args.bundle, args.backend or None)
    if args.json:
        print(json.dumps({"bundle": str(args.bundle), "rows": rows}, indent=2))
    else:
        keys = ["file", "variant", "backend", "bytes", "p50_us", "p90_us", "p99_us"]
        print(render(keys, [[r[k] for k in keys] for r in rows], title=f"bench {args.bundle} (batch 1)"))
    return 0
