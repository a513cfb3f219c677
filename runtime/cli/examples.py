"""The examples epilog of each command's --help, and the argument checks that run before heavy imports."""

from __future__ import annotations

import argparse

EXAMPLES = {
    "train": """examples:
  edgernn train --cell lstm --out out/my-lstm                       # the seed task (tutorial recipe)
  edgernn train --data data/sunspots.csv --cell gru --units 16 --out out/sunspots
  edgernn train --data weather.csv --columns temp,rh --target temp --date-format %m/%d/%Y --out out/w""",
    "report": """examples:
  edgernn report                                  # seed vs improved recipe per cell, PNGs in out/report
  edgernn report models/sunspots-gru --no-seed    # only the plots of a series bundle""",
    "export": """examples:
  edgernn export model.keras --out out/b --scale 0.1 --output-scale 0.1
  edgernn export model.keras --out out/b --preprocessing pre.json      # the manifest's preprocessing block
  edgernn export models/sunspots-gru --out out/sun-q --quantize dynamic,int8 --streaming
      (re-export: keeps the source bundle's preprocessing, columns and training/evaluation blocks)""",
    "predict": """examples:
  edgernn predict models/improved-lstm 6 7 8 9              # one window, raw units -> about 10
  edgernn predict models/improved-lstm --stream 6 7 8 9 10  # one prediction per sample
  edgernn predict models/seed-lstm --backend numpy --variant float32 -- -1 0 1 2""",
    "validate": """examples:
  edgernn validate models/seed-gru
  edgernn validate models/seed-lstm --variant int8 --json
  edgernn validate models/seed-lstm --fresh 100      # also against model.keras (needs edgernn[train])""",
    "bench": """examples:
  edgernn bench models/seed-lstm
  edgernn bench models/seed-lstm --backend onnxruntime --plot out/bench.png
  edgernn bench models/seed-lstm --json --no-baselines --cold-runs 0""",
    "info": """examples:
  edgernn info models/seed-gru
  edgernn info models/seed-gru --json | head -20""",
    "demo": """examples:
  edgernn demo                       # what `make demo` runs
  edgernn demo --out out/d --epochs 20 --quantize none""",
}


def epilog(command: str) -> str:
    return (
        EXAMPLES.get(command, "")
        + "\n\nexit codes: 0 ok, 1 a check failed, 2 usage, 3 bundle unreadable, 4 missing extra"
    )


def comma_list(known: tuple[str, ...] | None, what: str, allow_empty: bool = False):
    """An argparse type: a comma list whose items are all in `known` (None: taken from the registry)."""

    def parse(text: str) -> str:
        names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]
        choices = known if known is not None else _registry(what)
        bad = [n for n in names if n not in choices]
        if bad or (not names and not allow_empty):
            listed = ", ".join(map(repr, bad)) or repr(text)
            raise argparse.ArgumentTypeError(f"unknown {what} {listed}; expected a comma list of {', '.join(choices)}")
        return ",".join(names)

    return parse


def _registry(what: str) -> tuple[str, ...]:
    """The export registries' names; edgernn.export.formats and .variants import no TensorFlow."""
    if what == "format":
        from edgernn.export.formats import FORMAT_NAMES

        return tuple(FORMAT_NAMES)
    from edgernn.export.variants import VARIANTS

    return tuple(VARIANTS)


def floats(text: str) -> list[float]:
    """An argparse type: '0.1' or '0.1,0.2' -> [0.1] or [0.1, 0.2]."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
