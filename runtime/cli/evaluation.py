"""The `evaluation` block of a manifest (test-split metrics in raw units), rendered as a table."""

from __future__ import annotations

from typing import Any

from .table import render


def metrics_table(evaluation: dict[str, Any]) -> str:
    """One row per source (keras, each artifact x backend, a baseline): MAE and RMSE per target."""
    targets = evaluation.get("targets") or ["y"]
    headers = ["source", "backend"] + [f"{m} {t}" for t in targets for m in ("MAE", "RMSE")] + ["max |diff| vs keras"]
    rows = [
        [r["source"], r["backend"]]
        + [r[m][i] for i in range(len(targets)) for m in ("mae", "rmse")]
        + [r.get("max_abs_diff_vs_keras")]
        for r in evaluation.get("rows", [])
    ]
    return render(
        headers,
        rows,
        title=f"{evaluation.get('split', '?')} split, {evaluation.get('windows', '?')} windows, raw units",
    )
