"""PNG plots for the report. matplotlib is imported here only (the 'cli' extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.runtime.cli.figures import pyplot, save


def _pyplot():
    return pyplot("report plots")


def _save(fig, path: Path) -> Path:
    return save(fig, path)


def seed_loss_curves(results: Sequence[Any], path: Path) -> Path:
    """Training and validation loss per epoch: one panel per cell, both recipes."""
    plt = _pyplot()
    cells = list(dict.fromkeys(r.cell for r in results))
    # constrained: each panel has its own log scale, whose tick labels the next panel's y label touched
    fig, axes = plt.subplots(1, len(cells), figsize=(4.5 * len(cells), 3.6), squeeze=False, layout="constrained")
    for ax, cell in zip(axes[0], cells):
        for r in (r for r in results if r.cell == cell):
            (line,) = ax.plot(r.history["loss"], label=f"{r.recipe} train")
            if "val_loss" in r.history:
                ax.plot(r.history["val_loss"], "--", color=line.get_color(), label=f"{r.recipe} val")
        ax.set(title=cell, xlabel="epoch", ylabel="MSE (model units)", yscale="log")
        ax.legend(fontsize=8)
    return _save(fig, path)


def seed_predictions(results: Sequence[Any], starts: np.ndarray, probes: dict, path: Path) -> Path:
    """Predicted next value against the truth for windows starting at `starts`, with the probes marked."""
    plt = _pyplot()
    cells = list(dict.fromkeys(r.cell for r in results))
    fig, axes = plt.subplots(1, len(cells), figsize=(4.5 * len(cells), 3.6), squeeze=False, sharey=True)
    truth = starts + 4
    for ax, cell in zip(axes[0], cells):
        ax.plot(starts, truth, "k-", lw=1, label="truth")
        for r in (r for r in results if r.cell == cell):
            ax.plot(starts, r.curve, ".-", ms=3, label=r.recipe)
        for window, ideal in probes.values():
            ax.axvline(window[0], color="grey", lw=0.5, ls=":")
            ax.plot([window[0]], [ideal], "k*", ms=8)
        ax.axvspan(0, 5, color="tab:blue", alpha=0.08, label="seed training starts")
        ax.set(title=cell, xlabel="window start i (window i..i+3)", ylabel="next value")
        ax.legend(fontsize=8)
    return _save(fig, path)


def bundle_loss_curve(name: str, history: dict[str, list[float]], best_epoch: int | None, path: Path) -> Path:
    """A series bundle's training and validation loss (from its manifest)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], label="train")
    if "val_loss" in history:
        ax.plot(np.arange(1, len(history["val_loss"]) + 1), history["val_loss"], "--", label="validation")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"best epoch {best_epoch} (kept)")
    ax.set(title=f"{name}: loss", xlabel="epoch", ylabel="MSE (model units)", yscale="log")
    ax.legend(fontsize=8)
    return _save(fig, path)


def bundle_test_predictions(name: str, evaluation: dict[str, Any], path: Path) -> Path:
    """A series bundle's test split: truth and Keras predictions per target, raw units."""
    plt = _pyplot()
    pred = evaluation["predictions"]
    rows = np.asarray(pred["row"])
    truth, keras_y = np.asarray(pred["y_true"]), np.asarray(pred["keras"])
    targets = evaluation.get("targets", [f"y{i}" for i in range(truth.shape[1])])
    fig, axes = plt.subplots(len(targets), 1, figsize=(7, 3.2 * len(targets)), squeeze=False)
    keras_row = next(r for r in evaluation["rows"] if r["source"] == "keras")
    for i, (ax, target) in enumerate(zip(axes[:, 0], targets)):
        ax.plot(rows, truth[:, i], "k.-", lw=1, ms=3, label="truth")
        ax.plot(rows, keras_y[:, i], ".-", ms=3, label=f"prediction (MAE {keras_row['mae'][i]:.3g})")
        ax.set(title=f"{name}: test split, {target}", xlabel="row of the file", ylabel=f"{target} (raw units)")
        ax.legend(fontsize=8)
    return _save(fig, path)
