"""The commands of `edgernn`, one function each: a library call, then printing; returns the exit code.

Commands that need TensorFlow import it inside the function, through `optional`, so a missing
'train' extra is a MissingExtraError naming it, and `edgernn predict` never imports it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import load, optional
from ..bundle import Bundle, keys_to_trust
from ..errors import EdgeRNNError, InputError
from ..isolate import Limits
from ..stream import stream_values
from ..validate import not_run
from ..validate import validate as validate_bundle
from .conventions import needs_tensorflow
from .output import Progress, print_notes, print_table

CELLS = ("simple_rnn", "lstm", "gru")


def train(args) -> int:
    with needs_tensorflow("edgernn train"):
        from edgernn.train.cli import train_command

        return train_command(args)


def report(args) -> int:
    with needs_tensorflow("edgernn report"):
        from edgernn.train.cli import report_command

        return report_command(args)


def export(args) -> int:
    with needs_tensorflow("edgernn export"):
        from edgernn.export import ExportOptions, export_bundle

        from .export_args import export_keywords

        calibration = _load_windows(args.calibration) if args.calibration else None
        options = ExportOptions(**export_keywords(args, calibration), sign_key=args.sign)
        result = export_bundle(args.model, args.out, options)
    from .info import print_info

    print_info(Bundle(result.path, result.manifest))
    if result.manifest.quantization:
        from .figures import sibling_png, try_figure, variants_figure

        print(try_figure(variants_figure, result.manifest, sibling_png(result.path, "quantize")), file=sys.stderr)
    message = result.manifest.quantization.message if result.manifest.quantization else ""
    left_out = [f"format {r.format} ({r.role}) not written: {r.reason}" for r in result.manifest.refusals]
    message = "\n".join(filter(None, [message, *left_out]))
    if message:  # exit 1 (bundle still written) when a requested variant or format was left out
        print(f"edgernn export: wrote {result.path} without some artifacts:\n{message}", file=sys.stderr)
    return 1 if message else 0


def _load_windows(path: Path) -> np.ndarray:
    try:
        windows = np.load(path, allow_pickle=False)
        if isinstance(windows, np.ndarray) and windows.ndim == 3:
            return windows
        raise ValueError(f"got {'an .npz archive' if not isinstance(windows, np.ndarray) else windows.shape}")
    except (OSError, ValueError) as exc:
        raise InputError(
            f"--calibration {path}: expected a .npy array (n, timesteps, features) in raw units ({exc})."
        ) from None


def predict(args) -> int:
    from .predict_args import cli_nonfinite_hint, plot_stream

    predictor = load(args.bundle, backend=args.backend, variant=args.variant, threads=args.threads)
    spec, values, nonfinite = predictor.spec, args.values, getattr(args, "allow_nonfinite", False)
    timeout = getattr(args, "timeout", None)
    with cli_nonfinite_hint():
        if args.stream:
            if timeout is not None:
                raise InputError("--timeout bounds one predict call; --stream runs one step per sample without it.")
            outputs = stream_values(predictor, values, allow_nonfinite=nonfinite)
            for y in outputs:
                print(" ".join(f"{v:.6g}" for v in y))
            if getattr(args, "plot", None):
                print(f"plot written to {plot_stream(predictor, values, outputs, args.plot)}", file=sys.stderr)
            return 0
        if len(values) != spec.window_width:
            what = "token ids" if spec.tokens else f"x features {spec.features}, time-major"
            what = f"timesteps {spec.window_steps} {what}"
            if spec.inputs:  # several inputs: one packed row, each input flattened, in manifest order
                what = "the inputs side by side: " + ", ".join(f"{p.name} {p.width}" for p in spec.inputs)
            raise InputError(f"expected {spec.window_width} values ({what}), got {len(values)}.")
        x = np.asarray(values, dtype=np.float32).reshape(1, *spec.window_tail)
        y = predictor.predict(x, allow_nonfinite=nonfinite, timeout=timeout)
    if isinstance(y, dict):  # several outputs: one line each, led by its name
        for name, values in y.items():
            print(name, " ".join(f"{v:.6g}" for v in values.reshape(-1)))
        return 0
    print(" ".join(f"{v:.6g}" for v in y.reshape(-1)))
    return 0


def validate(args) -> int:
    """Exit 0 when every row passes, 1 when one fails; an error raises, for main's exit code (3 unreadable)."""
    try:
        bundle, reference = Bundle.open(args.bundle), None
        for variant in args.variant:
            bundle.check_variant(variant)  # InputError listing the bundle's variants (exit 2)
        if args.fresh:
            with needs_tensorflow("validate --fresh (running model.keras)"):
                from edgernn.export.reference import keras_reference

                reference = keras_reference(bundle)
        isolate = not keys_to_trust() if args.isolate is None else args.isolate  # unsigned: isolated
        # The CPU limit a second above the wall clock: a spinning child then always ends by the timeout it was given.
        isolate = Limits(cpu=int(args.timeout) + 1, timeout=args.timeout) if isolate else False
        names, variants = args.backend or None, args.variant or None
        rows = validate_bundle(bundle, names, variants, args.fresh, 0, reference, isolate, threads=args.threads)
    except EdgeRNNError as exc:  # --json prints JSON on every failure; main prints the message and exits
        if args.json:
            error = {"bundle": str(args.bundle), "passed": False, "error": f"{type(exc).__name__}: {exc}", "rows": []}
            print(json.dumps(error, indent=2))
        raise
    ok = bool(rows) and all(r.passed for r in rows)
    if args.json:
        print(json.dumps({"bundle": str(args.bundle), "passed": ok, "rows": [r.as_dict() for r in rows]}, indent=2))
        return 0 if ok else 1
    table = [
        [
            r.file,
            r.variant,
            r.backend,
            r.reference,
            r.samples,
            r.max_abs_error,
            r.p99_abs_error,
            r.p99_of_range,
            r.tolerance,
            "PASS" if r.passed else "FAIL",
        ]
        for r in rows
    ]
    print_table(
        [
            "artifact",
            "variant",
            "backend",
            "reference",
            "windows",
            "max abs err",
            "p99 abs err",
            "p99/range",
            "tolerance",
            "result",
        ],
        table,
        title=f"validate {args.bundle}",
    )
    print_notes([f"{r.file} on {r.backend}: {r.problem}" for r in rows if r.problem] + not_run(bundle))
    if not rows:
        print("no artifact could run: install a backend (pip install 'edgernn[litert]' or 'edgernn[onnx]').")
    return 0 if ok else 1


def keras_baselines_or_none(enabled: bool):
    """export.reference.keras_baselines when asked for and TensorFlow is installed, else None."""
    if not enabled or not (optional.available("tensorflow") and optional.available("keras")):
        return None
    from edgernn.export.reference import keras_baselines

    return keras_baselines


def bench(args) -> int:
    """`edgernn bench DIR [--backend B]... [--variant V]... [--json] [--plot FILE.png]`."""
    from .bench import bench as bench_bundle
    from .bench import plan, to_json
    from .bench_report import HEADERS, plot, table_rows

    bundle = Bundle.open(args.bundle)
    baselines = keras_baselines_or_none(not args.no_baselines)
    pairs = plan(bundle.manifest, args.backend or None, args.variant or None)
    with Progress(len(pairs) + int(baselines is not None), "bench") as step:
        result = bench_bundle(
            bundle,
            args.backend or None,
            args.variant or None,
            baselines=baselines,
            cold_runs=args.cold_runs,
            progress=step,
            threads=args.threads,
        )
    if args.plot:
        plot([result], args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.json:
        print(to_json(result))
        return 0
    print_table(HEADERS, table_rows(result), title=f"bench {args.bundle} (latency: Predictor.predict, batch 1)")
    for r in result["rows"]:
        if r.get("cold_start_error"):
            print(f"cold start failed: {r['file']} on {r['backend']}: {r['cold_start_error']}")
    if not result["baselines"] and not args.no_baselines:
        print("(no Keras baselines: TensorFlow or model.keras missing; pip install 'edgernn[train]')")
    return 0


def info(args) -> int:
    from .info import print_info

    bundle = Bundle.open(args.bundle)
    if args.json:
        print(json.dumps(bundle.manifest.raw or bundle.manifest.to_json(), indent=2))
        return 0
    print_info(bundle)
    return 0


def demo(args) -> int:
    from .demo_report import demo as run

    return run(args)
