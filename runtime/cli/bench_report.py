"""`edgernn bench` output: the table, the JSON form and the PNG chart (matplotlib, imported here only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        name = r["file"] if r["variant"] == "float32" else f"{r['file']} ({r['variant']}: {r.get('graph_form', '')})"
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
    """Write a PNG: p50 latency with p90/p99 whiskers and throughput per artifact x backend, by backend colour.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    from .figures import bench_figure

    return bench_figure(results, path)
