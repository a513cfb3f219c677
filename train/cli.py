"""`edgernn train`: fit a recipe and write a bundle."""
from __future__ import annotations

from edgernn.runtime.errors import InputError


def train_command(args) -> int:
    from edgernn.export import export_bundle

    from .data import DATASETS, SEED_SCALE
    from .fit import Recipe, train_recipe

    if args.data not in DATASETS:
        raise InputError(f"--data {args.data!r}: expected one of {sorted(DATASETS)} in this version.")
    x, y = DATASETS[args.data]()
    recipe = Recipe(cell=args.cell, units=(args.units,), epochs=args.epochs, seed=args.seed, data=args.data)
    model, history = train_recipe(recipe, x, y, verbose=2)
    extra = {"training": {"recipe": "cli", "data": args.data, "epochs": args.epochs, "final_loss": float(history.history["loss"][-1])}}
    streaming = getattr(args, "streaming", False)
    path = export_bundle(model, args.out, scale=SEED_SCALE, representative=x, extra=extra, streaming=streaming)
    print(f"wrote {path}")
    return 0
