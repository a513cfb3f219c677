"""`edgernn score` throughput and memory: local 1 thread, local all cores, Ray with 2 actors.

    .venv/bin/python benchmarks/score.py                    # 1M rows, + the 10M-row flat-memory run
    .venv/bin/python benchmarks/score.py --rows 100000 --big-rows 0

A synthetic series with the columns models/sunspots-gru reads (YEAR, SUNACTIVITY), written as NPY and
CSV. Each configuration runs in a fresh child process, so its peak RSS (/proc/self/status VmHWM) is
its own (a memory-mapped NPY's pages count in it as they are read); for Ray the actors are separate
processes, sampled from /proc every 50 ms (their peak summed RSS, reported beside the driver's).
Output to Parquet (what the Ray engine writes). Rows/s counts windows scored per second of the
scoring call (Ray's start-up is timed separately).
Results go to benchmarks/RESULTS-score.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "sunspots-gru"
sys.path.insert(0, str(Path(__file__).parent))
from results_md import md_table  # noqa: E402


def write_series(folder: Path, rows: int) -> dict[str, Path]:
    """A noisy 11-year cycle like the sunspot numbers, as .npy (structured) and .csv, in chunks."""
    npy, csv = folder / f"series-{rows}.npy", folder / f"series-{rows}.csv"
    years = np.arange(rows, dtype=np.float64) + 1700
    rng = np.random.default_rng(0)
    values = np.round(80 + 70 * np.sin(years * 2 * np.pi / 11) + rng.normal(0, 10, rows), 1)
    np.save(npy, np.rec.fromarrays([years, values], names=["YEAR", "SUNACTIVITY"]))
    with open(csv, "w") as fh:
        fh.write("YEAR,SUNACTIVITY\n")
        for s in range(0, rows, 1_000_000):
            fh.write("".join(f"{int(y)},{v}\n" for y, v in zip(years[s : s + 1_000_000], values[s : s + 1_000_000])))
    return {"npy": npy, "csv": csv}


def _ray_rss() -> int:
    """Summed RSS (kB) of this machine's Ray worker processes (ray::... in their command line)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"ray::" not in cmd:
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0)
    return total


def child(config: str, data: Path, out: Path) -> dict:
    """One measurement in this (fresh) process."""
    from edgernn.runtime.data.score import Job, score

    result: dict = {"config": config, "data": data.suffix[1:]}
    if config.startswith("ray"):
        import ray

        from edgernn.runtime.data.ray_engine import score_ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        result["ray_init_s"] = time.perf_counter() - t0
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], _ray_rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        summary = score_ray(Job(BUNDLE, data), out, actors=2)
        result["seconds"] = time.perf_counter() - t0
        done.set()
        sampler.join()
        result["actors_peak_rss_mb"] = peak[0] / 1024
    else:
        threads = 1 if config == "local-1" else os.cpu_count() or 1
        t0 = time.perf_counter()
        summary = score(BUNDLE, data, out, threads=threads)
        result["seconds"] = time.perf_counter() - t0
        result["threads"] = threads
    result.update(windows=summary.windows, backend=summary.backend, rows=summary.rows)
    result["rows_per_s"] = summary.windows / result["seconds"]
    result["peak_rss_mb"] = _hwm_kb() / 1024
    return result


def _hwm_kb() -> int:
    """This process's peak RSS (VmHWM): unlike ru_maxrss it starts afresh at exec, so the parent's
    memory (the 10M-row series it just wrote) is not counted."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))


def run(config: str, data: Path, folder: Path) -> dict:
    out = folder / f"out-{config}-{data.stem}.parquet"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ORT_DISABLE_TELEMETRY": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", config, "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if done.returncode:
        raise SystemExit(f"{config} on {data} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(result, file=sys.stderr, flush=True)
    return result


def report(rows: list[dict], big: list[dict], args) -> str:
    lines = [
        "# Batch scoring benchmark (benchmarks/score.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. **The 2 cores "
        "were shared with 3 other jobs during this run**, so absolute rates are noisy and the parallel rows "
        "cannot show their full gain; rows of one table ran one after another in one run.",
        f"Bundle: models/sunspots-gru (GRU 16 units, 12 timesteps x 1 feature), default backend; "
        f"output Parquet; chunks of 65,536 rows. Series: {args.rows:,} synthetic rows (YEAR, SUNACTIVITY).",
        "",
        "## Throughput and peak memory",
        "",
        "rows/s = windows scored per second of the scoring call (file read, windowing, predict, write). "
        "Peak RSS: the process's maximum resident set (VmHWM; for NPY input it includes the file's pages, "
        "memory-mapped, as they are read: the page cache can drop them); for Ray, the driver's, and the peak "
        "of the summed RSS of the Ray worker processes (the 2 actors and Ray's idle workers) sampled every 50 ms.",
        "",
        md_table(
            ["engine", "input", "backend", "windows", "seconds", "rows/s", "peak RSS (MB)", "Ray workers peak (MB)"],
            [
                [
                    r["config"] + (f" ({r['threads']} threads)" if "threads" in r else ""),
                    r["data"],
                    r["backend"],
                    r["windows"],
                    r["seconds"],
                    r["rows_per_s"],
                    r["peak_rss_mb"],
                    r.get("actors_peak_rss_mb"),
                ]
                for r in rows
            ],
        ),
    ]
    ray_rows = [r for r in rows if "ray_init_s" in r]
    if ray_rows:
        lines += ["", f"`ray.init(num_cpus=2)` took {ray_rows[0]['ray_init_s']:.1f} s before the scoring call."]
    if big:
        lines += [
            "",
            "## Flat memory: the same engine on 10x the rows",
            "",
            md_table(
                ["engine", "input", "rows", "windows", "seconds", "rows/s", "peak RSS (MB)"],
                [
                    [r["config"], r["data"], r["rows"], r["windows"], r["seconds"], r["rows_per_s"], r["peak_rss_mb"]]
                    for r in big
                ],
            ),  # fmt: skip
        ]
    return "\n".join(lines + ["", NOTES]) + "\n"


NOTES = """## Reading the figures

- Local, 1 thread vs all cores: on these 2 cores, shared with other jobs, the second thread has no
  free core to run on (the Python parts between backend calls, windowing and writing, also share one
  GIL; not measured apart): the `--threads` gain needs cores to spare.
- Ray with 2 actors is slower than the local engine on one machine: each actor starts a process that
  imports edgernn and the runtime and loads the bundle, and the results pass through Ray's object
  store (materialised, then written as Parquet). It pays when there are more cores (nodes) than one
  machine has; the code is the same for a cluster (docs/data.md, "Ray when one machine is not enough").
  The Ray workers' RSS includes Ray's own idle workers besides the 2 actors.
- Flat memory: 10x the rows leaves the CSV run's peak RSS where it was (ranges of 65,536 rows are
  read, cut, predicted and written one at a time). The NPY run's extra RSS is the memory-mapped file's
  pages (16 bytes a row), counted as resident while cached; they are the page cache, not the heap."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big-rows", type=int, default=10_000_000, help="rows of the flat-memory run (0: skip)")
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "RESULTS-score.md")
    ap.add_argument("--child")
    ap.add_argument("--data", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_series(folder, args.rows)
        rows = [run(c, files["npy"], folder) for c in ("local-1", "local-all")]
        try:
            import ray  # noqa: F401

            rows.append(run("ray-2", files["npy"], folder))
        except ImportError:
            print("ray not installed: no Ray row (pip install 'edgernn[ray]')", file=sys.stderr)
        rows.append(run("local-1", files["csv"], folder))
        big = []
        if args.big_rows:
            big_files = write_series(folder, args.big_rows)
            big = [run("local-1", big_files["csv"], folder), run("local-1", big_files["npy"], folder)]
        args.results.write_text(report(rows, big, args))
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
