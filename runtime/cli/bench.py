"""Benchmarks of a bundle, per artifact x backend: size, load, cold start, latency, throughput.

Window models are timed through Predictor.predict; step models (streaming) through Stream.step,
one sample per call (their rows carry no cold start).

Keras baselines (`predict` and an eager call on model.keras) are measured by a function the caller
passes (`edgernn.export.reference.keras_baselines`): this module never imports TensorFlow. Output
(tables, JSON, plots) lives in bench_report.py.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import backends
from ..bundle import Bundle
from ..errors import ModelRunError
from ..manifest import ROLES, STEP_ROLE, ArtifactEntry, Manifest
from ..stream import Stream
from . import speed
from .timing import per_call_us

THROUGHPUT_BATCHES = (64, 1024)
VERSIONED = (
    "edgernn",
    "numpy",
    "ai-edge-litert",
    "tflite-runtime",
    "onnxruntime",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
)
ROW_FIELDS = (
    "file",
    "format",
    "variant",
    "graph_form",
    "backend",
    "bytes",
    "load_ms",
    "cold_start_ms",
    "p50_us",
    "p90_us",
    "p99_us",
) + tuple(f"throughput_b{b}" for b in THROUGHPUT_BATCHES)


def machine_info() -> dict[str, Any]:
    """The machine and package versions the numbers were measured with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def windows(spec, batch: int, seed: int = 0) -> np.ndarray:
    """Random raw-unit windows that map to model units in [-1, 1] (token ids over the vocabulary)."""
    if spec.tokens:
        return np.random.default_rng(seed).integers(0, spec.vocabulary, (batch, spec.window_steps)).astype(np.int32)
    xm = np.random.default_rng(seed).uniform(-1, 1, (batch, *spec.window_tail))  # several inputs: packed
    return spec.x.to_raw(xm.astype(np.float32))


def throughput(fn: Callable[[np.ndarray], Any], x: np.ndarray, max_seconds: float = 0.5) -> float:
    """Samples per second of `fn(x)` (median call time after a warm-up)."""
    lat = per_call_us(lambda: fn(x), warmup=3, repeat=50, max_seconds=max_seconds)
    return float(len(x) / (lat["p50"] * 1e-6))


def cold_start_ms(bundle: Path, backend: str, variant: str, runs: int = 3) -> float:
    """Median time a fresh Python process spends on import edgernn, load and the first answer, in ms.

    Timed inside the process from the end of `import numpy` (which any numpy application pays
    anyway, and which would swamp the figure) to the first answer; benchmarks/RESULTS.md sets the
    same figure against `import tensorflow`."""
    code = textwrap.dedent(f"""
        import time
        import numpy as np
        t0 = time.perf_counter()
        from edgernn.runtime import load
        p = load({str(bundle)!r}, backend={backend!r}, variant={variant!r})
        p.predict(np.zeros((1, *p.spec.window_tail), np.float32))
        print((time.perf_counter() - t0) * 1e3)
    """)
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    times = []
    for _ in range(max(1, runs)):
        out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, env=env)
        try:
            times.append(float(out.stdout.strip().splitlines()[-1]))
        except (IndexError, ValueError):  # the child failed: keep its last words, not a CalledProcessError
            why = (out.stderr.strip().splitlines() or ["no output"])[-1][:300]
            raise ModelRunError(
                f"{bundle}: cold start of variant {variant!r} on {backend} failed in a fresh "
                f"process (exit {out.returncode}): {why}. Run 'edgernn validate' on the bundle "
                "in the same environment."
            ) from None
    return float(statistics.median(times))


def _cold_start(bundle: Path, backend: str, variant: str, runs: int) -> tuple[float | None, str | None]:
    """(ms, None), or (None, why) when the fresh process fails, so one artifact's failure is a row value."""
    if not runs:
        return None, None
    try:
        return cold_start_ms(bundle, backend, variant, runs), None
    except ModelRunError as exc:
        return None, str(exc)


def _row(
    art: ArtifactEntry, backend: str, graph_form: str, lat: dict[str, float], load_ms: float, cold_ms: float | None
) -> dict[str, Any]:
    return {
        "file": art.file,
        "format": art.format,
        "variant": art.variant,
        "graph_form": graph_form,
        "backend": backend,
        "bytes": art.bytes,
        "load_ms": load_ms,
        "cold_start_ms": cold_ms,
        "p50_us": lat["p50"],
        "p90_us": lat["p90"],
        "p99_us": lat["p99"],
        "samples": lat["n"],
    }


def bench_artifact(
    bundle: Bundle,
    art: ArtifactEntry,
    backend: str,
    cold_runs: int = 3,
    max_seconds: float = 1.0,
    threads: int = 1,
    peak: float | None = None,
) -> dict[str, Any]:
    """One row: the measurements of one window model in one backend (see ROW_FIELDS); with threads > 1
    also batch-1024 throughput at that many threads and GFLOP/s against `peak` (speed.py)."""
    loads = []
    for _ in range(3):
        t0 = time.perf_counter()
        predictor = bundle.predictor(backend, artifact=art)
        loads.append(time.perf_counter() - t0)
    x1 = windows(predictor.spec, 1)
    lat = per_call_us(lambda: predictor.predict(x1), warmup=200, repeat=5000, max_seconds=max_seconds)
    cold, cold_error = _cold_start(bundle.path, backend, art.variant, cold_runs)
    form = f"{art.graph_form} (batch fixed at 1)" if art.batch == 1 else art.graph_form  # run row by row
    row = _row(art, backend, form, lat, float(np.median(loads) * 1e3), cold)
    row.update(max_abs_error=art.max_abs_error, range_relative_error=art.extra.get("range_relative_error"))
    if cold_error:
        row["cold_start_error"] = cold_error
    for batch in THROUGHPUT_BATCHES:
        row[f"throughput_b{batch}"] = throughput(predictor.predict, windows(predictor.spec, batch, seed=batch))
    x = windows(predictor.spec, speed.BATCH, seed=speed.BATCH)
    row.update(speed.scaling(bundle, art, backend, threads, row["throughput_b1024"], peak, x))
    return row


def _samples(model, batch: int, seed: int = 0) -> np.ndarray:
    """One raw-unit sample per stream row; several inputs: the sequence input's (the others start the states)."""
    if not model.spec.inputs:
        return windows(model.spec, batch, seed)[:, 0]
    return np.random.default_rng(seed).uniform(-1, 1, (batch, model.features)).astype(np.float32)


def bench_step(bundle: Bundle, art: ArtifactEntry, backend: str, max_seconds: float = 1.0) -> dict[str, Any]:
    """One row for a step model: Stream.step latency (one sample) and samples/s of batched streams."""
    t0 = time.perf_counter()
    model = bundle.step_model(backend, artifact=art)
    load_ms = (time.perf_counter() - t0) * 1e3
    stream, x_t = Stream(model), _samples(model, 1)[0]
    lat = per_call_us(lambda: stream.step(x_t), warmup=200, repeat=5000, max_seconds=max_seconds)
    row = _row(art, backend, "step", lat, load_ms, None)
    for batch in THROUGHPUT_BATCHES:
        row[f"throughput_b{batch}"] = throughput(Stream(model, batch).step, _samples(model, batch, seed=batch))
    return row


Baselines = Callable[[Bundle], list[dict[str, Any]]]  # rows in ROW_FIELDS for the Keras model itself


def plan(manifest: Manifest, backend_names: Sequence[str] | None, variants: Sequence[str] | None) -> list:
    """The (artifact, backend) pairs a bench run measures."""
    names = list(backend_names) if backend_names else backends.installed()
    return [
        (art, name)
        for art in manifest.artifacts(role=ROLES, variant=variants)
        for name in names
        if backends.runs(name, art)
    ]


def bench(
    path: str | Path | Bundle,
    backend_names: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    *,
    baselines: Baselines | None = None,
    cold_runs: int = 3,
    max_seconds: float = 1.0,
    progress: Callable[[str], None] | None = None,
    threads: int = 0,
) -> dict[str, Any]:
    """Benchmark a bundle: {'bundle', 'machine', 'rows', 'baselines'} (rows: see ROW_FIELDS).

    `threads`: the thread count of the batch-1024 scaling figure (0: every core); latency is 1 thread.

    Raises:
        ManifestError, IntegrityError: the bundle cannot be read or fails its hash check.
    """
    bundle = path if isinstance(path, Bundle) else Bundle.open(path)
    bundle.check_integrity()
    rows, threads = [], threads or os.cpu_count() or 1
    peak = speed.sgemm_peak_gflops()
    for art, name in plan(bundle.manifest, backend_names, variants):
        if progress:
            progress(f"{art.file} on {name}")
        if art.role == STEP_ROLE:
            rows.append(bench_step(bundle, art, name, max_seconds))
        else:
            rows.append(bench_artifact(bundle, art, name, cold_runs, max_seconds, threads, peak))
    if baselines and progress:
        progress("Keras baselines")
    base = baselines(bundle) if baselines else []
    machine = {**machine_info(), "sgemm_peak_gflops": peak}
    return {"bundle": str(bundle.path), "machine": machine, "rows": with_ratios(rows), "baselines": base}


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add size_ratio and latency_ratio: each window model against the float32 one of its format on its backend."""
    base = {(r["format"], r["backend"]): r for r in rows if r["variant"] == "float32" and r["graph_form"] != "step"}
    for r in rows:
        ref = None if r["graph_form"] == "step" else base.get((r["format"], r["backend"]))
        r["size_ratio"] = r["bytes"] / ref["bytes"] if ref else None
        r["latency_ratio"] = r["p50_us"] / ref["p50_us"] if ref else None
    return rows


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2)
