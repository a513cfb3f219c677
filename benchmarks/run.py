"""Regenerate benchmarks/RESULTS.md on this machine: every ratio is measured within one run.

    .venv/bin/python benchmarks/run.py [--out benchmarks/RESULTS.md] [--quick]

Timings on a shared machine are noisy, so calls that are compared are timed in interleaved blocks
and each figure is the fastest block's mean per call (the least-disturbed estimate of its cost);
process start-up figures are medians of several fresh processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import speed  # noqa: E402  (benchmarks/ is sys.path[0])
from results_md import headline, render  # noqa: E402

from edgernn.runtime import (  # noqa: E402
    Bundle,
    backends,
    load,
    optional,  # noqa: E402
)
from edgernn.runtime.cli.bench import machine_info, throughput, windows  # noqa: E402
from edgernn.runtime.cli.timing import per_call_us  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ("seed-simplernn", "seed-lstm", "seed-gru")


def interleaved_us(fns: dict[str, Callable[[], Any]], rounds: int, block: int = 200) -> dict[str, float]:
    """Per-call cost of each fn: fastest block mean over `rounds` interleaved blocks, in microseconds."""
    best = {k: float("inf") for k in fns}
    for fn in fns.values():  # warm-up
        for _ in range(block):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / block * 1e6)
    return best


def litert_hot_path(bundle: Path, rounds: int) -> dict[str, float]:
    """Predictor.predict vs the raw interpreter call on the same file, and where the difference goes."""
    from math import isfinite

    p = load(bundle, backend="litert")
    module = backends.backend_module("litert").interpreter_module()

    def fresh_interpreter():
        interp = module.Interpreter(model_path=str(bundle / p.artifact.file), num_threads=1)
        interp.allocate_tensors()
        return interp

    raw_i, nat_i = fresh_interpreter(), fresh_interpreter()
    i_in, i_out = raw_i.get_input_details()[0]["index"], raw_i.get_output_details()[0]["index"]
    x = windows(p.spec, 1)
    xm = artifact_input(p, x)
    ym = p.run_model_units(xm)
    scale_in, scale_out = p.spec.x.scale, p.spec.y.scale

    def raw():
        raw_i.set_tensor(i_in, xm)
        raw_i.invoke()
        return raw_i.get_tensor(i_out)

    def native():  # the C++ wrapper methods the backend calls, without the lock and the checks
        w = nat_i._interpreter
        w.SetTensor(i_in, xm)
        w.Invoke()
        return w.GetTensor(i_out)

    fns = {
        "raw call": raw,
        "native call": native,
        "backend.run": lambda: p._run(xm),
        "predict": lambda: p.predict(x),
        "finiteness check": lambda: isfinite(sum(x.ravel().tolist())),
        "input affine": lambda: np.multiply(x, scale_in[0]),
        "output affine": lambda: np.true_divide(ym, scale_out[0]),
    }
    out = interleaved_us(fns, rounds)
    if p.spec.folded or (p.spec.x.identity and p.spec.y.identity):  # predict runs no unit map
        out["input affine"] = out["output affine"] = None
    return out


def artifact_input(p, x: np.ndarray) -> np.ndarray:
    """What the artifact itself takes: raw units when the maps are folded into it, else model units."""
    xm = x if p.spec.folded else (x - p.spec.x.offset) * p.spec.x.scale
    return np.ascontiguousarray(xm, dtype=np.float32)


def identity_bundle(bundle: Path, root: Path) -> Path:
    """The bundle's model.keras re-exported (TFLite only) with identity preprocessing, into `root`."""
    from edgernn.export import export_bundle

    return export_bundle(bundle / "model.keras", root / f"{bundle.name} (identity units)", formats=("tflite",)).path


def ort_hot_path(bundle: Path, rounds: int) -> dict[str, float]:
    """Predictor.predict vs session.run on a separate session of the same file and options."""
    import onnxruntime as ort

    p = load(bundle, backend="onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(bundle / p.artifact.file), options, providers=["CPUExecutionProvider"])
    name, out = session.get_inputs()[0].name, [session.get_outputs()[0].name]
    x = windows(p.spec, 1)
    xm = artifact_input(p, x)
    return interleaved_us({"raw call": lambda: session.run(out, {name: xm}), "predict": lambda: p.predict(x)}, rounds)


def keras_vs_edgernn(bundle: Path) -> dict[str, float]:
    """Median batch-1 latency of Keras predict, Keras eager call, and edgernn predict (auto backend)."""
    import keras

    model = keras.models.load_model(bundle / "model.keras", safe_mode=True, compile=False)
    p = load(bundle)
    x = windows(p.spec, 1)
    xm = ((x - p.spec.x.offset) * p.spec.x.scale).astype(np.float32)
    return {
        "keras predict": per_call_us(lambda: model.predict(xm, verbose=0), warmup=5, repeat=60, max_seconds=6)["p50"],
        "keras eager": per_call_us(lambda: model(xm, training=False), warmup=5, repeat=200, max_seconds=4)["p50"],
        "edgernn": per_call_us(lambda: p.predict(x), warmup=500, repeat=20000, max_seconds=2)["p50"],
        "backend": p.backend,
    }


def timed_process(code: str) -> tuple[float, float]:
    """Run `import numpy` then `code` in a fresh Python: (process wall ms, ms spent after numpy's import)."""
    script = f"import time, numpy\nt0 = time.perf_counter()\n{code}\nprint((time.perf_counter() - t0) * 1e3)"
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-I", "-c", script], check=True, capture_output=True, text=True, env=os.environ.copy()
    )
    return (time.perf_counter() - t0) * 1e3, float(out.stdout.strip().splitlines()[-1])


def cold_starts(bundle: Path, runs: int, tf_runs: int) -> dict[str, list[float]]:
    """Extra time of fresh processes over one that only imports numpy, in ms:
    [in-process min, in-process median, wall-difference min, wall-difference median].

    In-process = time from the end of `import numpy` to the end of the script, measured inside the
    process; wall difference = the process's wall time minus the numpy-only process's. The kinds run
    interleaved, round after round, so a burst of load from other jobs hits them all alike.
    """
    first = (
        "from edgernn.runtime import load; p = load({b!r}, backend={n!r}); "
        "p.predict(numpy.zeros((1, p.spec.timesteps, p.spec.features), numpy.float32))"
    )
    codes = {"numpy only": "pass"}
    for name in backends.installed_for(Bundle.open(bundle).manifest):
        codes[f"edgernn {name}: import + load + first answer"] = first.format(b=str(bundle), n=name)
    if optional.available("tensorflow"):
        codes["import tensorflow"] = "import tensorflow"
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in codes}
    for i in range(runs):
        for kind, code in codes.items():
            if kind != "import tensorflow" or i < tf_runs:
                samples[kind].append(timed_process(code))
    base = [wall for wall, _ in samples["numpy only"]]
    out = {}
    for kind, pairs in samples.items():
        walls, inner = [w for w, _ in pairs], [t for _, t in pairs]
        out[kind] = [
            min(inner),
            statistics.median(inner),
            min(walls) - min(base),
            statistics.median(walls) - statistics.median(base),
        ]
    out["numpy only"][2:] = [min(base), statistics.median(base)]  # absolute, for scale
    return out


def throughputs(bundle: Path) -> list[list[Any]]:
    rows = []
    for name in backends.installed_for(Bundle.open(bundle).manifest):
        p = load(bundle, backend=name)
        rows.append([bundle.name, name] + [throughput(p.predict, windows(p.spec, b, seed=b)) for b in (1, 64, 1024)])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and processes (a smoke run)")
    parser.add_argument("--wheel-venv", type=Path, help="venv with the installed wheel for the cold start ratio")
    args = parser.parse_args()
    rounds, runs, tf_runs = (20, 3, 1) if args.quick else (300, 11, 5)
    with tempfile.TemporaryDirectory() as work:
        return measure_all(args, rounds, runs, tf_runs, Path(work))


def measure_all(args, rounds: int, runs: int, tf_runs: int, work: Path) -> int:
    bundles = [ROOT / "models" / s for s in SEEDS]
    installed = backends.installed()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": runs,
        "tf_runs": tf_runs,
        "bundles": "models/",
    }
    if optional.available("tensorflow"):  # the code as it is: folded units, native ONNX ops
        print("re-exporting the seed bundles ...", file=sys.stderr)
        bundles = list(speed.current_bundles(ROOT / "models", work / "current").values())
        results["bundles"] = "models/*/model.keras re-exported by this checkout (same preprocessing)"
    print("hot path ...", file=sys.stderr)
    results["hot"] = {b.name: litert_hot_path(b, rounds) for b in bundles} if "litert" in installed else {}
    if "litert" in installed and optional.available("tensorflow"):
        with tempfile.TemporaryDirectory() as tmp:
            ident = identity_bundle(bundles[1], Path(tmp))
            results["hot"][ident.name] = litert_hot_path(ident, rounds)
    results["ort_hot"] = {b.name: ort_hot_path(b, rounds) for b in bundles} if "onnxruntime" in installed else {}
    print("Keras baselines ...", file=sys.stderr)
    results["keras"] = {b.name: keras_vs_edgernn(b) for b in bundles} if optional.available("tensorflow") else {}
    print("cold starts ...", file=sys.stderr)
    results["cold"] = cold_starts(bundles[1], runs, tf_runs)
    print("throughput ...", file=sys.stderr)
    results["throughput"] = [row for b in bundles for row in throughputs(b)]
    if optional.available("tensorflow") and "onnxruntime" in installed:
        print("ONNX forms ...", file=sys.stderr)
        results["onnx_forms"] = speed.onnx_forms(
            {b.name: b for b in bundles}, work, lambda f: interleaved_us(f, rounds)
        )
        print("threads and GFLOP/s ...", file=sys.stderr)
        results["scaling"] = speed.scaling({"seed-lstm": bundles[1], "LSTM(64) on (24, 3)": speed.lstm64(work)})
    if optional.available("ai_edge_litert"):  # the probe's raw interpreters (not tflite-runtime's)
        import split_probe

        print("splitting seed-lstm's batch ...", file=sys.stderr)
        results["split"] = split_probe.measure(bundles[1])
    if args.wheel_venv or not args.quick:
        print("cold start, installed wheel vs bare interpreter ...", file=sys.stderr)
        import cold_start

        venv = args.wheel_venv or cold_start.wheel_venv(work / "wheel")
        results["wheel_cold"] = cold_start.compare(venv / "bin" / "python", bundles[1], max(runs, 11))
    results["headline"] = headline(results)
    text = render(results)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.out)  # atomic: a killed run leaves the previous results
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
