"""Clean-install check: build the wheel, install it into fresh venvs, prove the runtime works there.

For each environment (no extra = numpy backend, [litert], [onnx], [tflite-runtime]) it creates a new
venv, installs the wheel with that extra, records the size over a bare-numpy venv, then checks that
`edgernn predict` and `edgernn validate` pass on every shipped bundle, that `auto` picks the
expected backend, and that TensorFlow, Keras and tf2onnx are not installed. Exit 1 on any failure.

    .venv/bin/python benchmarks/clean_install.py [--envs none,litert,onnx,tflite-runtime]
        [--results benchmarks/RESULTS-install.md] [--pytest] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = sorted(p for p in (ROOT / "models").iterdir() if (p / "manifest.json").exists())
HEAVY = ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "tf-keras")
PYTEST_SUBSET = "seed_bundles_are_shipped or shipped_bundle_validates or (imports_no_tensorflow and ({names}))"


def window(bundle: Path) -> list[str]:
    """6, 7, 8, ... raw values filling one window of the bundle (timesteps x features, time-major)."""
    inp = json.loads((bundle / "manifest.json").read_text())["input"]
    return [str(6 + i) for i in range(inp["timesteps"] * inp["features"])]


def predict_tolerance(bundle: Path, expected: float) -> float:
    """Raw-unit tolerance: 2e-5 in model units mapped back by the output scale, plus the 6 digits printed."""
    scale = json.loads((bundle / "manifest.json").read_text())["preprocessing"]["output"]["scale"]
    return 2e-5 / min(abs(v) for v in scale) + 1e-5 * abs(expected)


@dataclass(frozen=True)
class Env:
    name: str
    extra: str  # '' for none
    backends: tuple[str, ...]  # what `installed()` must report there
    auto: str  # what backend='auto' must pick
    numpy: str = "numpy"  # the bare-numpy baseline this env is measured against
    runtime_module: str = ""  # for litert: which module must have made the interpreter (litert.runtime_module)


ENVS = {
    "none": Env("none", "", ("numpy",), "numpy"),
    "litert": Env(
        "litert",
        "litert",
        ("litert", "numpy"),
        "litert",
        runtime_module="ai_edge_litert._pywrap_litert_interpreter_wrapper",
    ),
    "onnx": Env("onnx", "onnx", ("onnxruntime", "numpy"), "onnxruntime"),
    "tflite-runtime": Env(
        "tflite-runtime",
        "tflite-runtime",
        ("litert", "numpy"),
        "litert",
        "numpy<2",
        runtime_module="tflite_runtime.interpreter",
    ),
}


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def must(cmd: list, **kw) -> str:
    out = run(cmd, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def site_bytes(venv: Path) -> int:
    """Apparent size of the venv's site-packages (what the install added, pip and setuptools included)."""
    total = 0
    for site in venv.glob("lib/python*/site-packages"):
        for dirpath, _, files in os.walk(site):
            total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total


def check_python(python: str, envs: list[Env]) -> None:
    """tflite-runtime has wheels for Python < 3.12 only: say so before building anything."""
    version = must([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
    if any(e.name == "tflite-runtime" for e in envs) and tuple(map(int, version.split("."))) >= (3, 12):
        raise SystemExit(
            f"{python} is Python {version}; tflite-runtime 2.14 needs Python < 3.12. Pass "
            "--python python3.11 (or set EDGERNN_PYTHON / TFLITE_PYTHON), or drop that env."
        )


def make_venv(python: str, path: Path, *packages: str) -> Path:
    must([python, "-m", "venv", path])
    must([path / "bin" / "python", "-m", "pip", "install", "-q", *packages])
    return path


def build_wheel(work: Path) -> Path:
    """Build from a clean copy of the source: a stale build/lib in the checkout would leak into the wheel."""
    src, dist = work / "src", work / "dist"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "dist",
            "out",
            "*.egg-info",
            "__pycache__",
            "models",
            "tests",
            "fuzz",
            "benchmarks",
        ),
    )
    must([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, src])
    return next(dist.glob("edgernn-*.whl"))


def expected_predictions() -> dict[str, float]:
    """What this (development) interpreter's numpy backend predicts for `window` on each shipped bundle."""
    import numpy as np

    from edgernn.runtime import load

    out = {}
    for b in BUNDLES:
        predictor = load(b, backend="numpy")
        x = np.asarray(window(b), dtype=np.float32).reshape(1, predictor.spec.timesteps, predictor.spec.features)
        out[b.name] = float(predictor.predict(x).reshape(-1)[0])
    return out


def check_env(env: Env, venv: Path, cwd: Path, pytest_subset: bool, expected: dict[str, float]) -> dict:
    """Run the checks in `venv`; returns what was observed. RuntimeError on a failed check."""
    py, cli = venv / "bin" / "python", venv / "bin" / "edgernn"
    problems = []
    for dist in HEAVY:
        if run([py, "-m", "pip", "show", "-q", dist]).returncode == 0:
            problems.append(f"{dist} is installed")
    if run([py, "-c", "import tensorflow"], cwd=cwd).returncode == 0:
        problems.append("import tensorflow works")
    # 'c' is there whenever a C compiler is on PATH, whatever the extra: not what this check is about.
    probe = (
        "import json, sys; from edgernn.runtime import backends, load; p = load(sys.argv[1]); "
        "print(json.dumps({'installed': [b for b in backends.installed() if b != 'c'], 'auto': p.backend, "
        "'module': getattr(p.runner, 'runtime_module', '')}))"
    )
    seen = json.loads(must([py, "-c", probe, BUNDLES[0]], cwd=cwd).strip().splitlines()[-1])
    if tuple(seen["installed"]) != env.backends or seen["auto"] != env.auto:
        problems.append(
            f"backends {seen['installed']} auto {seen['auto']!r}; expected {env.backends} auto {env.auto!r}"
        )
    if env.runtime_module and seen["module"] != env.runtime_module:
        problems.append(f"LiteRT ran through {seen['module']!r}, expected {env.runtime_module!r}")
    rows = 0
    for bundle in BUNDLES:
        pred = run([cli, "predict", bundle, *window(bundle)], cwd=cwd)
        if pred.returncode != 0:
            problems.append(f"predict {bundle.name}: exit {pred.returncode} {pred.stderr.strip()}")
        elif abs(float(pred.stdout.split()[0]) - expected[bundle.name]) > predict_tolerance(
            bundle, expected[bundle.name]
        ):
            problems.append(
                f"predict {bundle.name}: {pred.stdout.strip()}, the dev env says {expected[bundle.name]:.6g}"
            )
        val = run([cli, "validate", bundle, "--json"], cwd=cwd)
        report = json.loads(val.stdout) if val.stdout.strip().startswith("{") else {"rows": []}
        rows += len(report["rows"])
        if val.returncode != 0 or {r["backend"] for r in report["rows"]} != set(env.backends):
            problems.append(
                f"validate {bundle.name}: exit {val.returncode}, rows {report['rows']} {val.stderr.strip()}"
            )
    if pytest_subset:
        must([py, "-m", "pip", "install", "-q", "pytest"])
        names = " or ".join(env.backends)
        test = run(
            [
                py,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                ROOT / "tests" / "runtime" / "test_runtime_only.py",
                "-k",
                PYTEST_SUBSET.format(names=names),
            ],
            cwd=ROOT,
        )
        if test.returncode != 0:
            problems.append(f"pytest subset failed:\n{test.stdout[-2000:]}")
        seen["pytest"] = test.stdout.strip().splitlines()[-1] if test.stdout.strip() else ""
    if problems:
        raise RuntimeError(f"[{env.name}] " + "; ".join(problems))
    return {**seen, "validate_rows": rows}


def installed_dists(venv: Path) -> str:
    out = json.loads(must([venv / "bin" / "python", "-m", "pip", "list", "--format", "json", "--exclude-editable"]))
    skip = {"pip", "setuptools", "wheel", "numpy", "edgernn"}
    return ", ".join(f"{d['name']} {d['version']}" for d in out if d["name"].lower() not in skip) or "-"


def write_results(path: Path, rows: list[dict], wheel: Path, python: str) -> None:
    """The sizes table, then batch-1 latency of every backend installed in this interpreter."""
    import platform

    from backend_latency import markdown, measure

    version = must([python, "-c", "import platform; print(platform.python_version())"]).strip()
    lines = [
        "# Clean install: environment sizes and backend latency",
        "",
        f"Written by `make check-install` (benchmarks/clean_install.py) on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"Python {version}, {platform.machine()}. The wheel ({wheel.name}, {wheel.stat().st_size / 1e3:.0f} kB) is "
        "installed into a fresh venv per extra; size is the venv's site-packages over a venv holding only "
        "numpy (the same numpy spec), so it is what the extra adds. In every env `edgernn predict` and "
        "`edgernn validate` pass on the shipped bundles and tensorflow, keras and tf2onnx are absent.",
        "",
        "| env | extra | result | adds over bare numpy (MB) | site-packages (MB) | auto picks | validate rows | "
        "packages added | install+check (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['env']} | `{r['extra']}` | {r['status']} | {r['over_bare_mb']:.1f} | {r['site_mb']:.1f} "
            f"(bare `{r['baseline']}`) | {r['auto']} | {r['rows']} | {r['adds']} | {r['seconds']:.0f} |"
        )
    lines += [
        "",
        "## Batch-1 latency per backend (the `auto` rule)",
        "",
        "Measured in the development venv, every backend interleaved in one run, best of 7 rounds of 300 calls "
        "(benchmarks/backend_latency.py). `raw` is one backend call on model-unit input (ratio to the fastest "
        "in brackets); `predict` adds the Predictor's input checks and pre/post-processing. The machine is "
        "shared, so read the ratios, not the absolute numbers.",
        "",
        markdown(measure()),
        "",
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a killed run leaves the old results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="none,litert,onnx,tflite-runtime")
    parser.add_argument(
        "--python",
        default=os.environ.get("EDGERNN_PYTHON", "python3"),
        help="interpreter for the venvs (tflite-runtime needs Python < 3.12)",
    )
    parser.add_argument("--results", type=Path, help="write the markdown results here")
    parser.add_argument("--pytest", action="store_true", help="also run the runtime-only pytest subset in each env")
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them")
    args = parser.parse_args(argv)
    unknown = [n for n in args.envs.split(",") if n not in ENVS]
    if unknown:
        parser.error(f"unknown envs {unknown}; expected some of {sorted(ENVS)}")
    envs = [ENVS[name] for name in args.envs.split(",")]
    check_python(args.python, envs)
    work = args.keep or Path(tempfile.mkdtemp(prefix="edgernn-install-"))
    work.mkdir(parents=True, exist_ok=True)
    cwd = work / "cwd"  # outside the source tree: the wheel, not the checkout, must be imported
    cwd.mkdir(exist_ok=True)
    try:
        expected = expected_predictions()
        wheel = build_wheel(work)
        print(f"wheel {wheel.name} ({wheel.stat().st_size} bytes)", flush=True)
        bases = {}
        rows, failed = [], []
        for env in envs:
            if env.numpy not in bases:
                bases[env.numpy] = site_bytes(make_venv(args.python, work / f"bare-{len(bases)}", env.numpy))
            t0 = time.perf_counter()
            venv = make_venv(
                args.python, work / f"env-{env.name}", f"{wheel}[{env.extra}]" if env.extra else str(wheel)
            )
            size, adds = site_bytes(venv), installed_dists(venv)  # before the checks install pytest
            try:
                seen = check_env(env, venv, cwd, args.pytest, expected)
                status = "PASS"
            except RuntimeError as exc:
                seen, status = {}, "FAIL"
                failed.append(str(exc))
            row = {
                "env": env.name,
                "extra": f"[{env.extra}]" if env.extra else "(none)",
                "status": status,
                "over_bare_mb": (size - bases[env.numpy]) / 1e6,
                "site_mb": size / 1e6,
                "baseline": env.numpy,
                "adds": adds,
                "auto": seen.get("auto", "?"),
                "rows": seen.get("validate_rows", 0),
                "seconds": time.perf_counter() - t0,
                "pytest": seen.get("pytest", ""),
            }
            rows.append(row)
            print(
                f"{env.name:15s} {status}  +{row['over_bare_mb']:.1f} MB over bare {env.numpy}  auto={row['auto']}  "
                f"validate rows={row['rows']}  {row['seconds']:.0f}s {row['pytest']}",
                flush=True,
            )
        for problem in failed:
            print(problem, file=sys.stderr)
        if args.results:
            write_results(args.results, rows, wheel, args.python)
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
