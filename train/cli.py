"""`edgernn train`: fit a recipe and write a bundle."""
from __future__ import annotations

from edgernn.runtime.errors import InputError


def train_command(args) -> int:
    from edgernn.export import export_bundle

    from .data import SEED_SCALE, seed_dataset
    from .fit import Recipe, train_recipe

    if args.data != "seed":
        raise InputError(f"--data {args.data!r}: only 'seed' is supported in this version.")
    x, y = seed_dataset()
    recipe = Recipe(cell=args.cell, units=(args.units,), epochs=args.epochs, seed=args.seed)
    model, history = train_recipe(recipe, x, y, verbose=2)
    extra = {"training": {"recipe": "cli", "data": "seed", "epochs": args.epochs, "final_loss": float(history.history["loss"][-1])}}
    path = export_bundle(model, args.out, scale=SEED_SCALE, representative=x, extra=extra)
    print(f"wrote {path}")
    return 0
