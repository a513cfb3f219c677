"""The `edgernn` command: a thin layer, each command one library call plus printing.

Commands that need TensorFlow (train, export, demo) import it lazily and name the extra to
install when it is missing.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .errors import EdgeRNNError, IntegrityError, ManifestError, missing_extra
from .table import render

CELLS = ("simple_rnn", "lstm", "gru")


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


@contextmanager
def _needs_tensorflow(purpose: str) -> Iterator[None]:
    """Turn TensorFlow/Keras missing (at import or at first use deep inside training) into a
    MissingExtraError naming the 'train' extra, like `edgernn export` does, instead of a traceback."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("tensorflow", "keras", "tf_keras"):
            raise
        raise missing_extra("tensorflow", "train", purpose) from None


def cmd_train(args) -> int:
    with _needs_tensorflow("edgernn train"):
        from edgernn.train.cli import train_command

        return train_command(args)


def cmd_report(args) -> int:
    from edgernn.train.cli import report_command

    return report_command(args)


def cmd_export(args) -> int:
    from edgernn.export import export_bundle

    scale = args.scale[0] if len(args.scale) == 1 else args.scale
    offset = args.offset[0] if len(args.offset) == 1 else args.offset
    calibration = _load_windows(args.calibration) if args.calibration else None
    path = export_bundle(args.model, args.out, formats=args.formats.split(","), scale=scale, offset=offset,
                         streaming=args.streaming, quantize=args.quantize, calibration=calibration,
                         max_error=args.max_error)
    cmd_info(argparse.Namespace(bundle=path, json=False))
    return _report_variant_failures(path)


def _load_windows(path: Path):
    import numpy as np

    from .errors import InputError

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"--calibration {path}: expected a .npy array (n, timesteps, features) in raw units ({exc}).") from None


def _report_variant_failures(path: Path) -> int:
    """Exit 1 (bundle still written) when a requested quantized variant was left out; say which and why."""
    from .manifest import read_manifest

    message = read_manifest(Path(path)).get("quantization", {}).get("message", "")
    if message:
        print(f"edgernn export: wrote {path} without some variants:\n{message}", file=sys.stderr)
    return 1 if message else 0


def cmd_predict(args) -> int:
    from .predictor import load

    predictor = load(args.bundle, backend=args.backend, variant=args.variant)
    spec = predictor.spec
    values = args.values
    if args.stream:
        from .stream import stream_values

        for y in stream_values(predictor, values):
            print(" ".join(f"{v:.6g}" for v in y))
        return 0
    if len(values) != spec.timesteps * spec.features:
        raise_input(f"expected {spec.timesteps * spec.features} values (timesteps {spec.timesteps} x features "
                    f"{spec.features}, time-major), got {len(values)}.")
    y = predictor.predict([[values[t * spec.features:(t + 1) * spec.features] for t in range(spec.timesteps)]])
    print(" ".join(f"{v:.6g}" for v in y.reshape(-1)))
    return 0


def raise_input(message: str):
    from .errors import InputError

    raise InputError(message)


def cmd_validate(args) -> int:
    from .cli_output import validate_command

    return validate_command(args)


def cmd_bench(args) -> int:
    from .bench_report import bench_command

    return bench_command(args)


def cmd_info(args) -> int:
    from .cli_info import print_info

    return print_info(Path(args.bundle), as_json=args.json)


def cmd_demo(args) -> int:
    quantize = () if args.quantize in ("", "none") else args.quantize.split(",")
    with _needs_tensorflow("edgernn demo"):
        from edgernn.export.demo import run_demo

        rows = run_demo(args.out, epochs=args.epochs, quantize=quantize)
    headers = sorted({k for r in rows for k in r if k not in ("bundle",)}, key=_demo_order)
    print()
    print(render(headers, [[r.get(h) for h in headers] for r in rows],
                 title="seed task: windows [i..i+3] -> i+4 (raw units; ideal 10 and 3)"))
    for r in rows:
        _print_variants(Path(r["bundle"]))
    print(f"\nbundles written under {args.out}")
    from .cli_output import demo_tables

    return 0 if demo_tables([r["bundle"] for r in rows]) else 1


def _print_variants(bundle: Path) -> None:
    """The quantized variants of a demo bundle: size, error and latency relative to float32."""
    from .bench import bench
    from .manifest import read_manifest

    quant = read_manifest(bundle).get("quantization")
    if not quant:
        return
    keys = ["file", "backend", "bytes", "size_ratio", "max_abs_error", "range_relative_error", "p50_us", "latency_ratio"]
    result = bench(bundle, variants=["float32", *quant["requested"]], baselines=False, cold_runs=0, max_seconds=0.3)
    rows = [r for r in result["rows"] if r["variant"] != "float32"]
    print()
    print(render(keys, [[r[k] for k in keys] for r in rows],
                 title=f"quantized variants of {bundle.name} (errors on held-out windows, model units; ratios to float32)"))
    if quant.get("message"):
        print(quant["message"])


def _demo_order(key: str) -> tuple[int, str]:
    order = ("cell", "params", "pred", "err", "litert", "onnxruntime", "numpy", "keras")
    return next((i for i, p in enumerate(order) if key.startswith(p)), len(order)), key


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgernn", description="Keras RNNs to TFLite/ONNX bundles, run without TF.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (needs edgernn[train])")
    p.add_argument("--cell", choices=CELLS, default="simple_rnn")
    p.add_argument("--units", type=int, default=10)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--data", default="seed", help="'seed' (the tutorial's six windows), 'seed_sequence' (next value at every step), or FILE.csv|FILE.npy")
    p.add_argument("--columns", help="input columns, comma separated (default: every numeric column)")
    p.add_argument("--target", help="target column(s), comma separated (default: the first input column)")
    p.add_argument("--timesteps", type=int, help="window length T (default 12 for a file)")
    p.add_argument("--horizon", type=int, default=1, help="predict the value H steps after the window (default 1)")
    p.add_argument("--streaming", action="store_true", help="also write step models for Predictor.stream()")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="bundle directory to write")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("report", help="seed recipe vs improved recipe per cell, and plots of series bundles (needs edgernn[train,cli])")
    p.add_argument("bundles", type=Path, nargs="*", metavar="DIR", help="bundles trained with --data FILE to plot")
    p.add_argument("--out", type=Path, default=Path("out/report"))
    p.add_argument("--no-seed", action="store_true", help="skip the seed comparison (no training)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="export a .keras model to a bundle (needs edgernn[train])")
    p.add_argument("model", type=Path, help="MODEL.keras, or a bundle directory holding model.keras")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--formats", default="tflite,onnx,numpy")
    p.add_argument("--scale", type=_floats, default=[1.0], help="x_model = (x_raw - offset) * scale; comma list per feature")
    p.add_argument("--offset", type=_floats, default=[0.0])
    p.add_argument("--streaming", action="store_true", help="also write step models (state in/out) for streaming")
    p.add_argument("--quantize", default="", help="quantized variants to add: comma list of dynamic,float16,int8")
    p.add_argument("--calibration", type=Path, help="WINDOWS.npy (n, timesteps, features) in raw units for int8 calibration")
    p.add_argument("--max-error", dest="max_error", help="refuse a variant beyond this max abs error (model units, or N%% of the output range)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="predict one window given in raw units (or, with --stream, one per sample)")
    p.add_argument("bundle", type=Path)
    p.add_argument("values", type=float, nargs="+", metavar="VALUE")
    p.add_argument("--stream", action="store_true", help="the values are samples fed one at a time; one prediction each")
    p.add_argument("--backend", default="auto")
    p.add_argument("--variant", default="float32")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("validate", help="golden vectors x artifacts x backends; exit 1 on failure, 2 if unreadable")
    p.add_argument("bundle", type=Path)
    p.add_argument("--backend", action="append", default=[])
    p.add_argument("--variant", action="append", default=[], help="only these variants (repeatable)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--fresh", type=int, default=0, metavar="N",
                   help="also compare with model.keras on N new random windows (needs edgernn[train])")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("bench", help="latency and size per artifact x backend")
    p.add_argument("bundle", type=Path)
    p.add_argument("--backend", action="append", default=[])
    p.add_argument("--variant", action="append", default=[])
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="chart latency and size (needs edgernn[cli])")
    p.add_argument("--cold-runs", type=int, default=3, help="fresh processes per cold-start figure (0: skip)")
    p.add_argument("--no-baselines", action="store_true", help="skip the Keras predict/eager baselines")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("info", help="what a bundle holds")
    p.add_argument("bundle", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="the main job: train, export, check and time the seed models")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--quantize", default="dynamic,float16,int8", help="variants for the LSTM bundle ('none' to skip)")
    p.set_defaults(func=cmd_demo)
    return parser


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
