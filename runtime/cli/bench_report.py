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
            ]
        )
    return out


def plot(results: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG: p50 latency with p90/p99 whiskers and throughput per artifact x backend, by backend colour.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    from .figures import bench_figure

    return bench_figure(results, path)
