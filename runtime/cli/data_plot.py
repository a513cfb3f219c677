"""`validate --data --plot DIR`: one PNG per artifact x backend, the distribution of its per-window errors.

A histogram on a log axis (abs error, model units) with the tolerance, the p99 and the max marked;
windows that match the reference exactly (error 0) are counted in the title, and a pair that matched on
every window says so instead of drawing nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import optional
from ..data.parity import DataReport, DataRow

FLOOR = 1e-10  # the lowest bin edge drawn


def _draw(plt, row: DataRow, report: DataReport, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    e = row.errors if row.errors is not None else np.zeros(0)
    finite = e[np.isfinite(e)]
    exact = int((finite == 0).sum())
    if finite.size and finite.max() > 0:
        lo = max(float(finite[finite > 0].min()), FLOOR)
        hi = max(float(finite.max()), row.tolerance) * 1.5
        bins = np.logspace(np.log10(lo) - 0.1, np.log10(hi), 50)
        ax.hist(finite[finite > 0], bins=bins, color="#4477aa")  # exact zeros have no log: counted in the title
        ax.set_xscale("log")
        ax.axvline(row.p99_abs_error, color="#ccbb44", linestyle="--", label=f"p99 {row.p99_abs_error:.3g}")
        ax.axvline(row.max_abs_error, color="#ee6677", linestyle="--", label=f"max {row.max_abs_error:.3g}")
    else:
        ax.set_xscale("log")
        ax.set_xlim(FLOOR, max(row.tolerance, FLOOR) * 10)
        ax.text(0.5, 0.6, "every window matches the reference exactly" if finite.size else row.problem or "no data",
                ha="center", transform=ax.transAxes, wrap=True)  # fmt: skip
    ax.axvline(row.tolerance, color="#228833", label=f"tolerance {row.tolerance:.3g}")
    ax.set_xlabel("abs error per window (max over outputs, model units)")
    ax.set_ylabel("windows")
    verdict = "PASS" if row.passed else "FAIL"
    ax.set_title(
        f"{row.file} on {row.backend}: {verdict}\n{row.windows} windows of {Path(report.data).name} vs "
        f"{report.reference}" + (f"; {exact} windows exact (0, not drawn)" if exact else ""),
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_errors(report: DataReport, folder: Path) -> list[Path]:
    """Write `<artifact>-<backend>.png` per row of `report` into `folder`; returns the paths.

    Raises:
        MissingExtraError: matplotlib is not installed (edgernn[cli]).
    """
    matplotlib = optional.require("matplotlib", "validate --data --plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in report.rows:
        path = folder / f"{row.file}-{row.backend}.png"
        _draw(plt, row, report, path)
        paths.append(path)
    return paths
