"""The PNGs the commands write: matplotlib (the 'cli' extra) is imported here, on first use only.

Each figure is written by the command that has its data: `bench --plot` (latency and throughput),
`predict --stream --plot` (the stream against full-window answers); train/ and export/ use `pyplot`
and `save` for the loss curve and the quantized variants' size against error.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import optional

BACKEND_COLOURS = {"litert": "tab:blue", "onnxruntime": "tab:orange", "numpy": "tab:green", "keras": "tab:grey"}


def pyplot(purpose: str):
    """matplotlib.pyplot on the file-only Agg backend; MissingExtraError naming 'cli' when absent."""
    optional.require("matplotlib", purpose).use("Agg")  # files only; never open a window
    return optional.require("matplotlib.pyplot", purpose)


def save(fig, path: str | os.PathLike[str]) -> Path:
    """Write the figure atomically (a temp file beside `path`, then a rename) and close it."""
    plt = pyplot("writing a plot")
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def colour(backend: str) -> str:
    return BACKEND_COLOURS.get(backend, "tab:purple")


def stream_figure(name: str, values: np.ndarray, stream: np.ndarray, window: np.ndarray, timesteps: int, path):
    """Samples, the stream's answer after each one, and the full-window answer where a window exists."""
    plt = pyplot("predict --plot")
    t = np.arange(1, len(stream) + 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.5), sharex=True, height_ratios=(2, 1))
    for j in range(stream.shape[1]):
        top.plot(t, stream[:, j], "o-", ms=4, label=f"stream.step answer (output {j})")
        top.plot(t[timesteps - 1 :], window[:, j], "x--", ms=7, label=f"predict on the last {timesteps} samples")
    top.set(
        title=f"{name}: stream.step (state carries every sample so far) vs predict on the last {timesteps}",
        ylabel="answer (raw units)",
    )
    top.axvspan(0.5, timesteps - 0.5, color="grey", alpha=0.12, label="fewer samples than a window")
    top.legend(fontsize=8)
    for j in range(values.shape[1]):
        bottom.plot(t, values[:, j], "k.-", lw=1, label=f"input feature {j}")
    bottom.set(xlabel="sample", ylabel="input (raw units)")
    bottom.legend(fontsize=8)
    return save(fig, path)


def bench_figure(results: list[dict[str, Any]], path) -> Path:
    """Per artifact x backend: p50 latency with p90/p99 whiskers (log), and throughput at b64/b1024."""
    plt = pyplot("bench --plot")
    rows = [(Path(res["bundle"]).name, r) for res in results for r in res["rows"] + res["baselines"]]
    labels = [f"{r['file']} ({r['variant']})" if r["variant"] != "float32" else r["file"] for _, r in rows]
    if len(results) > 1:
        labels = [f"{b}/{lab}" for (b, _), lab in zip(rows, labels)]
    y = np.arange(len(rows))[::-1]
    height = max(3.0, 0.42 * len(rows) + 1.2)
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(12, height), sharey=True, constrained_layout=True)
    for yi, (_, r) in zip(y, rows):
        c = colour(r["backend"])
        p50, p90, p99 = r["p50_us"], r.get("p90_us") or r["p50_us"], r.get("p99_us") or r["p50_us"]
        lat.barh(yi, p50, color=c, height=0.7)
        lat.errorbar(p90, yi, xerr=[[p90 - p50], [0]], fmt="|", color="k", ms=10, lw=0.8)
        lat.plot([p90, p99], [yi, yi], color="k", lw=0.8)
        lat.plot([p99], [yi], "k|", ms=6)
        for k, (key, hatch) in enumerate((("throughput_b64", ""), ("throughput_b1024", "//"))):
            value = r.get(key)
            if value:
                thr.barh(yi + (0.18 if k == 0 else -0.18), value, height=0.34, color=c, hatch=hatch, edgecolor="k")
    lat.set_yticks(y, labels, fontsize=9)
    lat.set_xscale("log")
    ticker = optional.require("matplotlib.ticker", "bench --plot")
    lat.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    lat.xaxis.set_minor_formatter(ticker.NullFormatter())
    lat.set(xlabel="batch-1 latency (us, log): bar p50, whisker to p90 | and p99 |", title="latency")
    thr.set_xscale("log")
    thr.set(xlabel="samples/s (log): plain batch 64, hatched batch 1024", title="throughput")
    backends = list(dict.fromkeys(r["backend"] for _, r in rows))
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour(b)) for b in backends]
    thr.legend(handles, backends, title="backend", fontsize=8, loc="lower right")
    for ax in (lat, thr):
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.suptitle("edgernn bench " + ", ".join(Path(r["bundle"]).name for r in results))
    return save(fig, path)


FORMAT_COLOURS = {"tflite": "tab:blue", "onnx": "tab:orange", "numpy": "tab:green"}
FLOOR = 1e-9  # an error of exactly 0 drawn on the log axis


def variants_figure(manifest, path) -> Path:
    """Every window model of a bundle: file size against max abs error vs Keras, with its tolerance."""
    plt = pyplot("export --quantize plot")
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for art in manifest.artifacts(role="model"):
        if art.max_abs_error is None:
            continue
        c = FORMAT_COLOURS.get(art.format, "tab:purple")
        err = max(float(art.max_abs_error), FLOOR)
        marker = "o" if art.variant == "float32" else "s"
        ax.scatter([art.bytes], [err], color=c, marker=marker, s=60, zorder=3)
        ax.annotate(f"{art.file}", (art.bytes, err), textcoords="offset points", xytext=(6, 4), fontsize=8)
        if art.tolerance:
            ax.plot([art.bytes], [art.tolerance], marker="_", color=c, ms=18, mew=2)
            ax.plot([art.bytes, art.bytes], [err, art.tolerance], color=c, lw=0.6, ls=":")
    present = [f for f in FORMAT_COLOURS if manifest.artifacts(role="model", formats=[f])]
    handles = [plt.Line2D([], [], color=FORMAT_COLOURS[f], marker="o", ls="") for f in present]
    handles += [
        plt.Line2D([], [], color="k", marker="o", ls=""),
        plt.Line2D([], [], color="k", marker="s", ls=""),
        plt.Line2D([], [], color="k", marker="_", ms=14, mew=2, ls=""),
    ]
    names = [*present, "float32 (golden windows)", "quantized (held-out windows)", "tolerance"]
    ax.legend(handles, names, fontsize=8, loc="best")
    ax.set(xscale="log", yscale="log", xlabel="file size (bytes, log)")
    ax.set(ylabel=f"max abs error vs Keras (model units, log; 0 drawn at {FLOOR:g})")
    ax.set_title(f"{manifest.name}: size against error of every variant")
    ax.grid(which="both", alpha=0.3)
    return save(fig, path)


def sibling_png(out: str | os.PathLike[str], kind: str) -> Path:
    """Where a command puts a figure of the bundle it wrote: beside it, `DIR.<kind>.png` (a bundle
    folder holds only the files its manifest lists)."""
    out = Path(out)
    return out.with_name(f"{out.name}.{kind}.png")


def try_figure(draw, *args) -> str:
    """Draw a figure if matplotlib is installed: 'written to PATH', else a note naming the extra."""
    if not optional.available("matplotlib"):
        return f"no plot: {optional.hint('matplotlib')}"
    return f"plot written to {draw(*args)}"
