"""The `edgernn` command line: the parser and the exit codes; each command is in commands.py.

Commands that need TensorFlow (train, report, export, demo, validate --fresh, the bench baselines)
import it lazily and name the extra to install when it is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import EdgeRNNError, IntegrityError, ManifestError
from . import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgernn", description="Keras RNNs to TFLite/ONNX bundles, run without TF.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (needs edgernn[train])")
    p.add_argument("--cell", choices=commands.CELLS, default="simple_rnn")
    p.add_argument("--units", type=int, default=10)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument(
        "--data",
        default="seed",
        help="'seed' (the tutorial's six windows), 'seed_sequence' (next value at every step), or FILE.csv|FILE.npy",
    )
    p.add_argument("--columns", help="input columns, comma separated (default: every numeric column)")
    p.add_argument("--target", help="target column(s), comma separated (default: the first input column)")
    p.add_argument("--timesteps", type=int, help="window length T (default 12 for a file)")
    p.add_argument("--horizon", type=int, default=1, help="predict the value H steps after the window (default 1)")
    p.add_argument("--streaming", action="store_true", help="also write step models for Predictor.stream()")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="bundle directory to write")
    p.set_defaults(func=commands.train)

    p = sub.add_parser(
        "report", help="seed recipe vs improved recipe per cell, and plots of series bundles (needs edgernn[train,cli])"
    )
    p.add_argument("bundles", type=Path, nargs="*", metavar="DIR", help="bundles trained with --data FILE to plot")
    p.add_argument("--out", type=Path, default=Path("out/report"))
    p.add_argument("--no-seed", action="store_true", help="skip the seed comparison (no training)")
    p.set_defaults(func=commands.report)

    p = sub.add_parser("export", help="export a .keras model to a bundle (needs edgernn[train])")
    p.add_argument("model", type=Path, help="MODEL.keras, or a bundle directory holding model.keras")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--formats", default="tflite,onnx,numpy")
    p.add_argument(
        "--scale",
        type=commands.floats,
        default=[1.0],
        help="x_model = (x_raw - offset) * scale; comma list per feature",
    )
    p.add_argument("--offset", type=commands.floats, default=[0.0])
    p.add_argument("--streaming", action="store_true", help="also write step models (state in/out) for streaming")
    p.add_argument("--quantize", default="", help="quantized variants to add: comma list of dynamic,float16,int8")
    p.add_argument(
        "--calibration", type=Path, help="WINDOWS.npy (n, timesteps, features) in raw units for int8 calibration"
    )
    p.add_argument(
        "--max-error",
        dest="max_error",
        help="refuse a variant beyond this max abs error (model units, or N%% of the output range)",
    )
    p.set_defaults(func=commands.export)

    p = sub.add_parser("predict", help="predict one window given in raw units (or, with --stream, one per sample)")
    p.add_argument("bundle", type=Path)
    p.add_argument("values", type=float, nargs="+", metavar="VALUE")
    p.add_argument(
        "--stream", action="store_true", help="the values are samples fed one at a time; one prediction each"
    )
    p.add_argument("--backend", default="auto")
    p.add_argument("--variant", default="float32")
    add_threads(p)
    p.set_defaults(func=commands.predict)

    p = sub.add_parser("validate", help="golden vectors x artifacts x backends; exit 1 on failure, 2 if unreadable")
    p.add_argument("bundle", type=Path)
    p.add_argument("--backend", action="append", default=[])
    p.add_argument("--variant", action="append", default=[], help="only these variants (repeatable)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--fresh",
        type=int,
        default=0,
        metavar="N",
        help="also compare with model.keras on N new random windows (needs edgernn[train])",
    )
    add_threads(p)
    p.set_defaults(func=commands.validate)

    p = sub.add_parser("bench", help="latency and size per artifact x backend")
    p.add_argument("bundle", type=Path)
    p.add_argument("--backend", action="append", default=[])
    p.add_argument("--variant", action="append", default=[])
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="chart latency and size (needs edgernn[cli])")
    p.add_argument("--cold-runs", type=int, default=3, help="fresh processes per cold-start figure (0: skip)")
    p.add_argument("--no-baselines", action="store_true", help="skip the Keras predict/eager baselines")
    add_threads(p, "threads of the batch-1024 'all cores' throughput figure (default: every core)", 0)
    p.set_defaults(func=commands.bench)

    p = sub.add_parser("info", help="what a bundle holds")
    p.add_argument("bundle", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.info)

    p = sub.add_parser("demo", help="the main job: train, export, check and time the seed models")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--quantize", default="dynamic,float16,int8", help="variants for the LSTM bundle ('none' to skip)")
    p.set_defaults(func=commands.demo)
    return parser


def add_threads(p: argparse.ArgumentParser, text: str = "", default: int = 1) -> None:
    text = text or "threads for batches of 128+ windows (split over copies of the model); 0: every core; default 1"
    p.add_argument("--threads", type=int, default=default, metavar="N", help=text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # only matters for the commands that import TF
    try:
        return args.func(args)
    except EdgeRNNError as exc:
        print(f"edgernn {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ManifestError, IntegrityError)) else 1


if __name__ == "__main__":
    sys.exit(main())
