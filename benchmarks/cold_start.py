"""Cold start of the installed wheel against the bare LiteRT interpreter, side by side in fresh processes.

    .venv/bin/python benchmarks/cold_start.py [--venv DIR] [--runs N] [--bundle models/seed-lstm]

`edgernn` = `from edgernn.runtime import load` + `load(bundle, backend="litert")` + the first predict;
`bare` = `from ai_edge_litert.interpreter import Interpreter` + `Interpreter(model_content=...)` +
`allocate_tensors` + set/invoke/get on the same model.tflite. Both are timed inside the process from
the end of `import numpy` (which both pay), in a venv holding the wheel built from this checkout
(not an editable install: its import hook costs milliseconds of its own). The kinds alternate run
after run, so load from other jobs lands on both alike; the ratio is of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from clean_install import build_wheel, make_venv  # benchmarks/ is sys.path[0]

ROOT = Path(__file__).resolve().parent.parent
EDGERNN = """
from edgernn.runtime import load
p = load({bundle!r}, backend="litert")
p.predict(numpy.zeros((1, p.spec.timesteps, p.spec.features), numpy.float32))
"""
BARE = """
from ai_edge_litert.interpreter import Interpreter
with open({tflite!r}, "rb") as fh:
    it = Interpreter(model_content=fh.read(), num_threads=1)
it.allocate_tensors()
i, o = it.get_input_details()[0], it.get_output_details()[0]
it.set_tensor(i["index"], numpy.zeros(i["shape"], numpy.float32))
it.invoke()
it.get_tensor(o["index"])
"""


def timed(python: Path, code: str) -> float:
    """ms from the end of `import numpy` to the end of `code`, in a fresh process of `python`."""
    script = f"import time, numpy\nt0 = time.perf_counter()\n{code}\nprint((time.perf_counter() - t0) * 1e3)"
    out = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()
    )
    return float(out.stdout.strip().splitlines()[-1])


def wheel_venv(work: Path) -> Path:
    """A venv with the wheel of this checkout and its litert extra installed."""
    wheel = build_wheel(work)
    return make_venv(sys.executable, work / "venv", f"{wheel}[litert]")


def compare(python: Path, bundle: Path, runs: int) -> dict[str, float]:
    """{'edgernn', 'bare'}: median ms over `runs` alternating fresh processes; 'ratio' of the medians."""
    codes = {"edgernn": EDGERNN.format(bundle=str(bundle)), "bare": BARE.format(tflite=str(bundle / "model.tflite"))}
    samples: dict[str, list[float]] = {k: [] for k in codes}
    for _ in range(runs):
        for kind, code in codes.items():
            samples[kind].append(timed(python, code))
    out = {k: statistics.median(v) for k, v in samples.items()}
    out.update({f"{k} min": min(v) for k, v in samples.items()})
    out["ratio"] = out["edgernn"] / out["bare"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="an existing venv with the wheel installed (default: build one)")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "seed-lstm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        venv = args.venv or wheel_venv(Path(tmp))
        result = compare(venv / "bin" / "python", args.bundle.resolve(), args.runs)
    print(" ".join(f"{k}={v:.3g}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
