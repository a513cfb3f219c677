"""The commands of `edgernn`, one function each: a library call, then printing; returns the exit code.

Commands that need TensorFlow import it inside the function, through `optional`, so a missing
'train' extra is a MissingExtraError naming it, and `edgernn predict` never imports it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import optional
from ..bundle import Bundle, load
from ..errors import InputError, IntegrityError, ManifestError
from ..stream import stream_values
from ..validate import validate as validate_bundle
from .output import Progress, print_table
from .table import render

CELLS = ("simple_rnn", "lstm", "gru")


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


@contextmanager
def needs_tensorflow(purpose: str) -> Iterator[None]:
    """TensorFlow/Keras missing (at import or at first use deep inside training) -> MissingExtraError."""
    try:
        yield
    except ModuleNotFoundError as exc:
        top = optional.is_missing(exc)
        if top is None:
            raise
        raise optional.missing(top, purpose) from None


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

        scale = args.scale[0] if len(args.scale) == 1 else args.scale
        offset = args.offset[0] if len(args.offset) == 1 else args.offset
        calibration = _load_windows(args.calibration) if args.calibration else None
        options = ExportOptions(
            formats=tuple(args.formats.split(",")),
            scale=scale,
            offset=offset,
            streaming=args.streaming,
            quantize=args.quantize,
            calibration=calibration,
            max_error=args.max_error,
        )
        result = export_bundle(args.model, args.out, options)
    from .info import print_info

    print_info(Bundle(result.path, result.manifest))
    message = result.manifest.quantization.message if result.manifest.quantization else ""
    if message:  # exit 1 (bundle still written) when a requested variant was left out
        print(f"edgernn export: wrote {result.path} without some variants:\n{message}", file=sys.stderr)
    return 1 if message else 0


def _load_windows(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"--calibration {path}: expected a .npy array (n, timesteps, features) in raw units ({exc})."
        ) from None


def predict(args) -> int:
    predictor = load(args.bundle, backend=args.backend, variant=args.variant, threads=args.threads)
    spec, values = predictor.spec, args.values
    if args.stream:
        for y in stream_values(predictor, values):
            print(" ".join(f"{v:.6g}" for v in y))
        return 0
    if len(values) != spec.timesteps * spec.features:
        raise InputError(
            f"expected {spec.timesteps * spec.features} values (timesteps {spec.timesteps} x features "
            f"{spec.features}, time-major), got {len(values)}."
        )
    y = predictor.predict(np.asarray(values, dtype=np.float32).reshape(1, spec.timesteps, spec.features))
    print(" ".join(f"{v:.6g}" for v in y.reshape(-1)))
    return 0


def validate(args) -> int:
    """Exit 0 when every row passes, 1 when one fails, 2 when the bundle is unreadable."""
    try:
        bundle, reference = Bundle.open(args.bundle), None
        if args.fresh:
            with needs_tensorflow("validate --fresh (running model.keras)"):
                from edgernn.export.reference import keras_reference

                reference = keras_reference(bundle)
        names, variants = args.backend or None, args.variant or None
        rows = validate_bundle(bundle, names, variants, fresh=args.fresh, reference=reference, threads=args.threads)
    except (ManifestError, IntegrityError) as exc:
        if args.json:
            print(
                json.dumps(
                    {"bundle": str(args.bundle), "passed": False, "error": f"{type(exc).__name__}: {exc}", "rows": []},
                    indent=2,
                )
            )
        print(f"edgernn validate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
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
            r.max_abs_error,
            r.max_rel_error,
            r.tolerance,
            "PASS" if r.passed else "FAIL",
        ]
        for r in rows
    ]
    print_table(
        ["artifact", "variant", "backend", "reference", "max abs err", "max rel err", "tolerance", "result"],
        table,
        title=f"validate {args.bundle}",
    )
    for r in rows:
        if r.problem:
            print(f"  {r.file} on {r.backend}: {r.problem}")
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
    quantize = () if args.quantize in ("", "none") else args.quantize.split(",")
    with needs_tensorflow("edgernn demo"):
        from edgernn.train.demo import run_demo

        rows = run_demo(args.out, epochs=args.epochs, quantize=quantize)
    headers = sorted({k for r in rows for k in r if k not in ("bundle",)}, key=_demo_order)
    print()
    print(
        render(
            headers,
            [[r.get(h) for h in headers] for r in rows],
            title="seed task: windows [i..i+3] -> i+4 (raw units; ideal 10 and 3)",
        )
    )
    for r in rows:
        _print_variants(Bundle.open(r["bundle"]))
    print(f"\nbundles written under {args.out}")
    return 0 if _demo_tables([Bundle.open(r["bundle"]) for r in rows]) else 1


def _print_variants(bundle: Bundle) -> None:
    """The quantized variants of a demo bundle: size, error and latency relative to float32."""
    from .bench import bench as bench_bundle

    quant = bundle.manifest.quantization
    if not quant:
        return
    keys = [
        "file",
        "backend",
        "bytes",
        "size_ratio",
        "max_abs_error",
        "range_relative_error",
        "p50_us",
        "latency_ratio",
    ]
    result = bench_bundle(bundle, variants=["float32", *quant.requested], cold_runs=0, max_seconds=0.3)
    rows = [r for r in result["rows"] if r["variant"] != "float32"]
    print()
    print(
        render(
            keys,
            [[r[k] for k in keys] for r in rows],
            title=f"quantized variants of {bundle.path.name} "
            "(errors on held-out windows, model units; ratios to float32)",
        )
    )
    if quant.message:
        print(quant.message)


def _demo_order(key: str) -> tuple[int, str]:
    order = ("cell", "params", "pred", "err", "litert", "onnxruntime", "numpy", "keras")
    return next((i for i, p in enumerate(order) if key.startswith(p)), len(order)), key


def _demo_tables(bundles: list[Bundle]) -> bool:
    """The end of `edgernn demo`: one validate table and one bench table over the given bundles.

    Returns True when every validation row passed. Bench here skips the Keras baselines (the demo
    table above already times Keras) and takes one cold start per pair, to keep the demo short.
    """
    from .bench import bench as bench_bundle
    from .bench_report import HEADERS, table_rows

    rows, ok = [], True
    for b in bundles:
        for r in validate_bundle(b):
            ok = ok and r.passed
            rows.append([b.path.name, r.file, r.backend, r.max_abs_error, r.tolerance, "PASS" if r.passed else "FAIL"])
    print_table(
        ["bundle", "artifact", "backend", "max abs err", "tolerance", "result"],
        rows,
        title="\nvalidate: golden vectors x artifacts x backends",
    )
    bench_rows = []
    with Progress(len(bundles), "bench") as step:
        for b in bundles:
            step(b.path.name)
            result = bench_bundle(b, cold_runs=1, max_seconds=0.3)
            bench_rows += [[b.path.name, *row] for row in table_rows(result)]
    print_table(["bundle", *HEADERS], bench_rows, title="\nbench: Predictor.predict, batch 1 latency and throughput")
    return ok
