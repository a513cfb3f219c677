"""`edgernn bench` output: the table, the JSON form and the PNG chart (matplotlib, imported here only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .. import optional

HEADERS = (
    "artifact",
    "backend",
    "bytes",
    "load ms",
    "cold start ms",
    "p50 us",
    "p90 us",
    "p99 us",
    "samples/s b64",
    "samples/s b1024",
    "b1024 all threads",
    "GFLOP/s (of sgemm peak)",
)


def table_rows(result: dict[str, Any]) -> list[list[Any]]:
    """Rows of the bench table: artifacts x backends, then the Keras baselines."""
    out = []
    for r in result["rows"] + result["baselines"]:
        name = r["file"] if r["variant"] == "float32" else f"{r['file']} ({r['variant']})"
        cold = "failed" if r.get("cold_start_error") else r["cold_start_ms"]  # the reason is printed below
        out.append(
            [
                name,
                r["backend"],
                r["bytes"],
                r["load_ms"],
                cold,
                r["p50_us"],
                r["p90_us"],
                r["p99_us"],
                r["throughput_b64"],
                r["throughput_b1024"],
                _threads(r),
                _gflops(r),
            ]
        )
    return out


def _threads(r: dict[str, Any]) -> str:
    many = r.get("throughput_b1024_threads")
    return "" if many is None else f"{many:.4g} ({r['threads']}t, {r['thread_speedup']:.2f}x)"


def _gflops(r: dict[str, Any]) -> str:
    gflops, ratio = r.get("gflops_b1024"), r.get("peak_ratio")
    return "" if gflops is None else f"{gflops:.3g} ({ratio:.1%})" if ratio else f"{gflops:.3g}"


def plot(results: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG: batch-1 p50 latency and file size per artifact x backend, log scale.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    matplotlib = optional.require("matplotlib", "bench --plot")
    matplotlib.use("Agg")  # no display needed; must precede pyplot
    plt = optional.require("matplotlib.pyplot", "bench --plot")
    labels, latency, size = [], [], []
    for result in results:
        tag = Path(result["bundle"]).name
        for r in result["rows"] + result["baselines"]:
            labels.append(f"{tag}\n{r['file']}\n{r['backend']}")
            latency.append(r["p50_us"])
            size.append(r["bytes"])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, 1.1 * len(labels)), 8), constrained_layout=True)
    ax1.bar(range(len(labels)), latency, color="tab:blue")
    ax1.set_yscale("log")
    ax1.set_ylabel("batch-1 latency p50 (us, log)")
    ax2.bar(range(len(labels)), size, color="tab:orange")
    ax2.set_yscale("log")
    ax2.set_ylabel("file size (bytes, log)")
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.grid(axis="y", which="both", alpha=0.3)
    ax1.set_title("edgernn bench: per artifact x backend")
    path = Path(path)
    # Write beside the target and rename, so a failed plot never leaves a half-written PNG.
    fd, tmp = tempfile.mkstemp(prefix=".plot-", suffix=".png", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
