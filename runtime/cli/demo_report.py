"""`edgernn demo`: the tutorial's story as tables (seed and improved recipe per cell), validate and bench."""

from __future__ import annotations

from ..bundle import Bundle
from ..validate import validate as validate_bundle
from .conventions import needs_tensorflow
from .output import Progress, print_table
from .table import render

STORY = """The Keras SimpleRNN next-number tutorial trains on six windows [i..i+3]/10 -> (i+4)/10 and answers
0.868 for 0.6..0.9 and 0.176 for -0.1..0.2 (ideal 1.0 and 0.3): 8.68 and 1.76 in the raw units below.
'seed' rows: each cell with exactly that recipe. Six windows cannot teach a model to extrapolate, and
LSTM and GRU fall further short than SimpleRNN with it. 'improved' rows: 256 windows spanning the
probes, lr 1e-2, early stopping: every cell answers near 10 and 3 (the tutorial's lesson: more data)."""


def demo(args) -> int:
    quantize = tuple(v for v in args.quantize.split(",") if v and v != "none")
    with needs_tensorflow("edgernn demo"):
        from edgernn.train.demo import run_demo

        quiet = getattr(args, "verbosity", 0) < 0
        rows = run_demo(args.out, epochs=args.epochs, quantize=quantize, progress=(lambda _: None) if quiet else print)
    headers = sorted({k for r in rows for k in r if k not in ("bundle", "plots")}, key=_demo_order)
    print()
    print(STORY)
    print(
        render(
            headers,
            [[r.get(h) for h in headers] for r in rows],
            title="seed task: windows [i..i+3] -> i+4 (raw units; ideal 10 and 3; the tutorial: 8.68 and 1.76)",
        )
    )
    for r in rows:
        _print_variants(Bundle.open(r["bundle"]))
    plots = rows[0].get("plots") if rows else None
    print(f"\nbundles written under {args.out}")
    print(f"plots: {', '.join(plots)}" if plots else "no plots: pip install -e '.[cli]' for matplotlib")
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
    rows = [r for r in result["rows"] if r["variant"] != "float32" and r["graph_form"] != "step"]
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
    order = ("cell", "recipe", "params", "pred", "err", "litert", "onnxruntime", "numpy", "keras")
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
            rows.append(
                [
                    b.path.name,
                    r.file,
                    r.backend,
                    r.reference,
                    r.max_abs_error,
                    r.tolerance,
                    "PASS" if r.passed else "FAIL",
                ]
            )
    print_table(
        ["bundle", "artifact", "backend", "reference", "max abs err", "tolerance", "result"],
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
