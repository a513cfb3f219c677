"""`edgernn train` and `edgernn report`: fit a recipe and write a bundle; compare recipes with plots."""

from __future__ import annotations

import sys

from edgernn.runtime import Bundle
from edgernn.runtime.errors import InputError


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def train_command(args) -> int:
    from .data import DATASETS
    from .fit import Recipe

    if args.data in DATASETS:
        recipe = Recipe(cell=args.cell, units=(args.units,), epochs=args.epochs, seed=args.seed, data=args.data)
        return _train_seed(args, recipe)
    recipe = Recipe(cell=args.cell, units=(args.units,), epochs=args.epochs, seed=args.seed)
    from edgernn.runtime.cli.evaluation import metrics_table

    from .pipeline import SeriesJob, train_series

    job = SeriesJob(
        data=args.data,
        columns=_names(args.columns),
        targets=_names(args.target),
        timesteps=args.timesteps or 12,
        horizon=args.horizon,
        recipe=recipe,
        streaming=getattr(args, "streaming", False),
        date_format=getattr(args, "date_format", None),
    )
    quiet = getattr(args, "verbosity", 0) < 0  # -q: the result only, no notes, no epoch lines
    path, evaluation = train_series(job, args.out, **({"note": lambda _: None, "verbose": 0} if quiet else {}))
    print(f"wrote {path}")
    print(metrics_table(evaluation))
    training = Bundle.open(path).manifest.extra["training"]
    _loss_curve(path, training["history"], training["best_epoch"])
    return 0


def _loss_curve(path, history: dict, best_epoch: int | None) -> None:
    """`train` draws its own loss curve beside the bundle (DIR.loss.png), when matplotlib is installed."""
    from edgernn.runtime.cli.figures import sibling_png, try_figure

    from .plots import bundle_loss_curve

    print(try_figure(bundle_loss_curve, path.name, history, best_epoch, sibling_png(path, "loss")), file=sys.stderr)


def _train_seed(args, recipe) -> int:
    from edgernn.export import export_bundle

    from .data import DATASETS, SEED_SCALE
    from .fit import train_recipe

    if args.columns or args.target or args.timesteps not in (None, 4) or args.horizon != 1:
        raise InputError(
            "--columns/--target/--timesteps/--horizon apply to --data FILE.csv|FILE.npy; "
            "the seed task is fixed at 4 steps predicting the next."
        )
    x, y = DATASETS[args.data]()
    model, history = train_recipe(recipe, x, y, verbose=0 if getattr(args, "verbosity", 0) < 0 else 2)
    extra = {
        "training": {
            "recipe": "cli",
            "data": args.data,
            "epochs": args.epochs,
            "final_loss": float(history.history["loss"][-1]),
        }
    }
    streaming = getattr(args, "streaming", False)
    result = export_bundle(model, args.out, scale=SEED_SCALE, representative=x, extra=extra, streaming=streaming)
    print(f"wrote {result.path}")
    _loss_curve(result.path, {k: [float(v) for v in vals] for k, vals in history.history.items()}, None)
    return 0


def report_command(args) -> int:
    from .report import write_report

    paths = write_report(args.out, bundles=args.bundles, seed_comparison=not args.no_seed)
    for p in paths:
        print(f"wrote {p}")
    return 0
