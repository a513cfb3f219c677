"""`edgernn report`: the seed comparison (table + plots) and plots of series bundles.

Writes into one folder: `report.md` and `report.json` (the numbers), `seed_loss.png`,
`seed_predictions.png`, and per series bundle `<name>_loss.png` and `<name>_test.png`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgernn.runtime.cli.table import render
from edgernn.runtime.errors import InputError


def _write_text(path: Path, text: str) -> Path:
    from edgernn.export.atomic import write_file

    return write_file(path, text)


def seed_section(results, out: Path) -> tuple[list[Path], str, list[dict[str, Any]], str]:
    """Plots, the markdown text, the rows and the plain table of the seed comparison."""
    from . import plots
    from .data import PROBES
    from .seed_compare import IMPROVED, PLOT_STARTS, SEED, VAL_STARTS

    rows = [r.row() for r in results]
    headers = list(rows[0])
    table = render(
        headers,
        [[row[h] for h in headers] for row in rows],
        title="seed task: windows [i..i+3] -> i+4, raw units (ideal 10 and 3)",
    )
    text = "\n".join(
        [
            "## Seed comparison",
            "",
            f"- seed recipe: {SEED.windows} windows (starts 0..5), lr {SEED.recipe.learning_rate}, "
            f"{SEED.recipe.epochs} epochs.",
            f"- improved recipe: {IMPROVED.windows} windows, starts uniform in {list(IMPROVED.start_range)}, "
            f"lr {IMPROVED.recipe.learning_rate}, at most {IMPROVED.recipe.epochs} epochs, early stopping "
            f"(patience {IMPROVED.patience}) on validation loss.",
            f"- validation: windows starting at {VAL_STARTS[0]}..{VAL_STARTS[-1]}; probes: "
            + ", ".join(f"{k} -> {v[1]:g}" for k, v in PROBES.items())
            + ".",
            "",
            "```",
            table,
            "```",
            "",
            "![loss](seed_loss.png)",
            "",
            "![predictions](seed_predictions.png)",
            "",
        ]
    )
    paths = [
        plots.seed_loss_curves(results, out / "seed_loss.png"),
        plots.seed_predictions(results, PLOT_STARTS, PROBES, out / "seed_predictions.png"),
    ]
    return paths, text, rows, table


def bundle_section(bundle: Path, out: Path) -> tuple[list[Path], str, dict[str, Any]]:
    """Plots and metrics of a bundle trained with `edgernn train --data FILE`."""
    from edgernn.runtime.cli.evaluation import metrics_table
    from edgernn.runtime.manifest import Manifest

    from . import plots

    manifest = Manifest.read(bundle)
    training, evaluation = manifest.extra.get("training", {}), manifest.extra.get("evaluation")
    if not evaluation or "history" not in training:
        raise InputError(
            f"{bundle}: no training history or test evaluation in its manifest; expected a bundle "
            "written by 'edgernn train --data FILE.csv|FILE.npy'."
        )
    name = manifest.name or bundle.name
    paths = [
        plots.bundle_loss_curve(name, training["history"], training.get("best_epoch"), out / f"{name}_loss.png"),
        plots.bundle_test_predictions(name, evaluation, out / f"{name}_test.png"),
    ]
    data = training.get("data", {})
    text = "\n".join(
        [
            f"## {name}",
            "",
            f"- data: {data.get('file')}, inputs {data.get('columns')} -> {data.get('targets')}, "
            f"T={training.get('timesteps')}, H={training.get('horizon')}, "
            f"{data.get('rows_dropped_missing', 0)} rows dropped "
            f"for missing values; epochs run {training.get('epochs_run')}, best {training.get('best_epoch')}.",
            "",
            "```",
            metrics_table(evaluation),
            "```",
            "",
            f"![loss]({name}_loss.png)",
            "",
            f"![test]({name}_test.png)",
            "",
        ]
    )
    return paths, text, {"bundle": str(bundle), "evaluation_rows": evaluation["rows"]}


def write_report(
    out: str | Path, bundles: Sequence[str | Path] = (), seed_comparison: bool = True, results=None, progress=print
) -> list[Path]:
    """Write the report folder. `results` (from `seed_compare.compare`) skips the training when given.

    Returns the written files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    parts, numbers = ["# edgernn report", ""], {}
    if seed_comparison:
        if results is None:
            from .seed_compare import compare

            results = compare(progress=progress)
        p, text, rows, table = seed_section(results, out)
        paths += p
        parts.append(text)
        numbers["seed_comparison"] = rows
        progress(table)
    for bundle in bundles:
        p, text, entry = bundle_section(Path(bundle), out)
        paths += p
        parts.append(text)
        numbers.setdefault("bundles", []).append(entry)
    paths.append(_write_text(out / "report.md", "\n".join(parts)))
    paths.append(_write_text(out / "report.json", json.dumps(numbers, indent=2) + "\n"))
    return paths
