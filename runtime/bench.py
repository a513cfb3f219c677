"""Benchmarks of a bundle, per artifact x backend: size, load, cold start, latency, throughput.

Window models are timed through Predictor.predict; step models (streaming) through Stream.step,
one sample per call (their rows carry no cold start).

With TensorFlow installed, Keras `predict` and an eager call on model.keras are timed as baselines
(TF imported inside `keras_baselines` only). Output (tables, JSON, plots) lives in bench_report.py.
"""
from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import backends
from .errors import ModelRunError
from .manifest import read_manifest
from .predictor import load
from .stream import STEP_ROLE
from .timing import per_call_us
from .validate import check_integrity, model_artifacts, open_artifact

THROUGHPUT_BATCHES = (64, 1024)
VERSIONED = ("edgernn", "numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime", "tensorflow", "tensorflow-cpu", "keras")
ROW_FIELDS = ("file", "format", "variant", "graph_form", "backend", "bytes", "load_ms", "cold_start_ms",
              "p50_us", "p90_us", "p99_us") + tuple(f"throughput_b{b}" for b in THROUGHPUT_BATCHES)


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
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "versions": versions}


def windows(spec, batch: int, seed: int = 0) -> np.ndarray:
    """Random raw-unit windows that map to model units in [-1, 1]."""
    xm = np.random.default_rng(seed).uniform(-1, 1, (batch, spec.timesteps, spec.features))
    return (xm / spec.x.scale + spec.x.offset).astype(np.float32)


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
        p.predict(np.zeros((1, p.spec.timesteps, p.spec.features), np.float32))
        print((time.perf_counter() - t0) * 1e3)
    """)
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    times = []
    for _ in range(max(1, runs)):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        try:
            times.append(float(out.stdout.strip().splitlines()[-1]))
        except (IndexError, ValueError):  # the child failed: keep its last words, not a CalledProcessError
            why = (out.stderr.strip().splitlines() or ["no output"])[-1][:300]
            raise ModelRunError(f"{bundle}: cold start of variant {variant!r} on {backend} failed in a fresh "
                                f"process (exit {out.returncode}): {why}. Run 'edgernn validate' on the bundle "
                                "in the same environment.") from None
    return float(statistics.median(times))


def _cold_start(bundle: Path, backend: str, variant: str, runs: int) -> tuple[float | None, str | None]:
    """(ms, None), or (None, why) when the fresh process fails, so one artifact's failure is a row value."""
    if not runs:
        return None, None
    try:
        return cold_start_ms(bundle, backend, variant, runs), None
    except ModelRunError as exc:
        return None, str(exc)


def bench_artifact(bundle: Path, manifest: dict[str, Any], art: dict[str, Any], backend: str,
                   cold_runs: int = 3, max_seconds: float = 1.0) -> dict[str, Any]:
    """One row: the measurements of one artifact in one backend (see ROW_FIELDS)."""
    loads = []
    for _ in range(3):
        t0 = time.perf_counter()
        predictor = open_artifact(bundle, manifest, art, backend)
        loads.append(time.perf_counter() - t0)
    spec = predictor.spec
    x1 = windows(spec, 1)
    lat = per_call_us(lambda: predictor.predict(x1), warmup=200, repeat=5000, max_seconds=max_seconds)
    cold, cold_error = _cold_start(bundle, backend, art["variant"], cold_runs)
    row = {"file": art["file"], "format": art["format"], "variant": art["variant"],
           "graph_form": art.get("graph_form", ""), "backend": backend, "bytes": art["bytes"],
           "max_abs_error": art.get("max_abs_error"), "range_relative_error": art.get("range_relative_error"),
           "load_ms": float(np.median(loads) * 1e3),
           "cold_start_ms": cold, "p50_us": lat["p50"], "p90_us": lat["p90"], "p99_us": lat["p99"], "samples": lat["n"]}
    if cold_error:
        row["cold_start_error"] = cold_error
    for batch in THROUGHPUT_BATCHES:
        row[f"throughput_b{batch}"] = throughput(predictor.predict, windows(spec, batch, seed=batch))
    return row


def bench_step(bundle: Path, art: dict[str, Any], backend: str, max_seconds: float = 1.0) -> dict[str, Any]:
    """One row for a step model: Stream.step latency (one sample) and samples/s of batched streams."""
    t0 = time.perf_counter()
    predictor = load(bundle, backend=backend, variant=art["variant"])
    stream = predictor.stream()  # opens the step model
    load_ms = (time.perf_counter() - t0) * 1e3
    spec = predictor.spec
    x_t = windows(spec, 1)[0, 0]
    lat = per_call_us(lambda: stream.step(x_t), warmup=200, repeat=5000, max_seconds=max_seconds)
    row = {"file": art["file"], "format": art["format"], "variant": art["variant"], "graph_form": "step",
           "backend": backend, "bytes": art["bytes"], "load_ms": load_ms, "cold_start_ms": None,
           "p50_us": lat["p50"], "p90_us": lat["p90"], "p99_us": lat["p99"], "samples": lat["n"]}
    for batch in THROUGHPUT_BATCHES:
        batched = predictor.stream(batch)
        row[f"throughput_b{batch}"] = throughput(batched.step, windows(spec, batch, seed=batch)[:, 0])
    return row


def tensorflow_installed() -> bool:
    return importlib.util.find_spec("tensorflow") is not None and importlib.util.find_spec("keras") is not None


def keras_baselines(bundle: Path, manifest: dict[str, Any], max_seconds: float = 2.0) -> list[dict[str, Any]]:
    """Keras `model.predict` and the eager call `model(x)` on model.keras, batch 1 and throughput.

    Empty when TensorFlow or model.keras is missing. Inputs are in model units (Keras sees those).
    """
    source = manifest.get("source") or {}
    path = bundle / str(source.get("file", "model.keras"))
    if not tensorflow_installed() or not path.is_file():
        return []
    import keras

    model = keras.models.load_model(path, safe_mode=True, compile=False)
    inp = manifest["input"]
    rng = np.random.default_rng(0)
    x1 = rng.uniform(-1, 1, (1, inp["timesteps"], inp["features"])).astype(np.float32)
    calls = {"keras predict": lambda x: model.predict(x, verbose=0), "keras eager": lambda x: model(x, training=False)}
    rows = []
    for name, fn in calls.items():
        lat = per_call_us(lambda: fn(x1), warmup=3, repeat=200, max_seconds=max_seconds)
        row = {"file": path.name, "format": "keras", "variant": "float32", "graph_form": "", "backend": name,
               "bytes": path.stat().st_size, "load_ms": None, "cold_start_ms": None,
               "p50_us": lat["p50"], "p90_us": lat["p90"], "p99_us": lat["p99"], "samples": lat["n"]}
        for batch in THROUGHPUT_BATCHES:
            xb = rng.uniform(-1, 1, (batch, inp["timesteps"], inp["features"])).astype(np.float32)
            row[f"throughput_b{batch}"] = throughput(fn, xb, max_seconds=max_seconds)
        rows.append(row)
    return rows


def plan(manifest: dict[str, Any], backend_names: Sequence[str] | None, variants: Sequence[str] | None) -> list:
    """The (artifact, backend) pairs a bench run measures."""
    names = list(backend_names) if backend_names else backends.installed()
    return [(art, name) for art in model_artifacts(manifest, variants) for name in names
            if art["format"] in backends.formats_of(name)]


def bench(path: str | Path, backend_names: Sequence[str] | None = None, variants: Sequence[str] | None = None, *,
          baselines: bool = True, cold_runs: int = 3, max_seconds: float = 1.0,
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Benchmark a bundle: {'bundle', 'machine', 'rows', 'baselines'} (rows: see ROW_FIELDS).

    Raises:
        ManifestError, IntegrityError: the bundle cannot be read or fails its hash check.
    """
    bundle = Path(path)
    manifest = read_manifest(bundle)
    check_integrity(bundle, manifest)
    rows = []
    for art, name in plan(manifest, backend_names, variants):
        if progress:
            progress(f"{art['file']} on {name}")
        if art.get("role", "model") == STEP_ROLE:
            rows.append(bench_step(bundle, art, name, max_seconds))
        else:
            rows.append(bench_artifact(bundle, manifest, art, name, cold_runs, max_seconds))
    if baselines and progress and tensorflow_installed():
        progress("Keras baselines")
    base = keras_baselines(bundle, manifest) if baselines else []
    return {"bundle": str(bundle), "machine": machine_info(), "rows": with_ratios(rows), "baselines": base}


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
