"""Data in, data out: `predict --input/--output/--json`, `score`, `validate --data`; their options too.

main.py adds these options to its parsers (`predict_options`, `validate_options`, `add_score`);
each command here is a library call (runtime/data/) plus printing, and returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .. import load, optional
from ..data.plan import plan_for, ranges
from ..data.score import CHUNK_ROWS, Job, concat, score_range
from ..data.sinks import open_sink
from ..data.source import ArraySource, open_source
from ..errors import InputError
from . import commands
from .data_io import read_stdin_series, read_windows
from .output import Progress, print_table


def value(text: str) -> float | str:
    """A positional VALUE: a number, or '-' (read the windows from stdin, as --input -)."""
    if text == "-":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (or '-' for stdin)") from None


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="ray: Ray Data actors (edgernn[ray])")
    p.add_argument("--actors", type=int, default=2, help="Ray actors (one CPU and one backend thread each)")
    p.add_argument("--columns", help="the file's input columns, comma separated (default: the bundle's)")
    p.add_argument("--chunk-rows", dest="chunk_rows", type=int, default=CHUNK_ROWS, help="rows per range read")


def predict_options(p: argparse.ArgumentParser) -> None:
    # VALUE stays nargs="+" (so `B --stream 1 2` still finds its values after the flag) but may be
    # left out when --input gives the windows; argparse marks a "+" positional required, so unmark it.
    values = next(a for a in p._actions if a.dest == "values")
    values.required, values.default = False, []
    p.add_argument("--input", metavar="FILE|-", help="windows from FILE.npy, FILE.csv or stdin ('-'), one per row")
    p.add_argument("--series", action="store_true", help="--input is a series: cut it into every window")
    p.add_argument("--output", type=Path, metavar="FILE", help="write the outputs to FILE.npy, .csv or .json")
    p.add_argument("--json", action="store_true", help="print the outputs as JSON")
    p.set_defaults(func=predict)


def validate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, metavar="FILE", help="every window of a CSV/NPY/Parquet series file")
    p.add_argument("--reference", choices=("auto", "keras", "numpy"), default="auto", help="with --data")
    p.add_argument("--plot", type=Path, metavar="DIR", help="with --data: a PNG of the errors per artifact")
    _engine_options(p)
    p.set_defaults(func=validate)


def add_score(sub) -> None:
    p = sub.add_parser("score", help="predict every window of a series file; rows beside their row ids")
    p.add_argument("bundle", type=Path)
    p.add_argument("--data", required=True, type=Path, metavar="FILE", help="CSV, NPY or Parquet series")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help=".csv/.parquet/.npy/.json (ray: a folder)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--variant", default="float32")
    p.add_argument("--threads", type=int, default=1, help="local worker threads, one Predictor each")
    p.add_argument("--missing", choices=("drop", "error"), default="drop", help="a missing input value (as train)")
    p.add_argument("--json", action="store_true")
    _engine_options(p)
    p.set_defaults(func=score)


def _columns(args) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in args.columns.split(",")) if args.columns else None


def predict(args) -> int:
    """`predict B VALUE...` as before; with --input/--series/--output/--json, windows from files or stdin."""
    if args.values == ["-"]:
        args.input, args.values = "-", []
    if "-" in args.values:
        raise InputError("'-' reads stdin and comes alone: `edgernn predict B -` (or --input -).")
    if args.input is None and not args.values:
        raise InputError("expected VALUE ... (one window, time-major) or --input FILE|- ; see edgernn predict -h.")
    if args.input is None and not (args.json or args.output):
        return commands.predict(args)
    if args.stream:
        raise InputError("--stream takes VALUE ... only; for a file use --input FILE --series.")
    predictor = load(args.bundle, backend=args.backend, variant=args.variant)
    spec = predictor.spec
    if args.series:
        if args.input is None:
            raise InputError("--series needs --input FILE or --input -.")
        if getattr(args, "timeout", None) is not None:
            raise InputError("--timeout bounds one predict call of windows; --series scores the file in chunks.")
        cols = _series(predictor, args.input)
        y = np.stack([cols[c] for c in cols if c.endswith("_pred")], axis=1)
        ids = {"row": cols["row"].tolist()}
    else:
        x = read_windows(args.input, spec) if args.input else np.asarray(args.values, np.float32)
        if args.input is None and x.size != spec.window_width:
            return commands.predict(args)  # its message says what was expected
        x = x.reshape(-1, *spec.window_tail)
        y = predictor.predict(x, timeout=getattr(args, "timeout", None))
        if isinstance(y, dict):  # several outputs: their values side by side, in the manifest's order
            y = np.concatenate([v.reshape(len(v), -1) for v in y.values()], axis=1)
        flat = y.reshape(len(y), -1)
        cols = {"window": np.arange(len(y)), **{f"y{j}": flat[:, j] for j in range(flat.shape[1])}}
        ids = {"window": cols["window"].tolist()}
    if args.output:
        names = list(cols)
        with open_sink(args.output, names, values=[n for n in names if n not in ("row", "window")]) as sink:
            sink.write(cols)
    if args.json:
        head = {"bundle": str(args.bundle), "backend": predictor.backend, "variant": predictor.variant}
        print(json.dumps({**head, "artifact": predictor.artifact.file, **ids, "outputs": y.tolist()}))
    elif not args.output:
        for row in y.reshape(len(y), -1):
            print(" ".join(f"{v:.6g}" for v in row))
    return 0


def _series(predictor, name: str) -> dict[str, np.ndarray]:
    """Every window of a series file (or stdin) through `predictor`: the columns `score` writes."""
    if name == "-":
        manifest = predictor.manifest
        inputs = (manifest.extra.get("training") or {}).get("data", {}).get("columns")
        source = ArraySource(
            read_stdin_series(predictor.spec), inputs or [str(j) for j in range(predictor.spec.features)]
        )
    else:
        source = open_source(name)
    plan = plan_for(predictor.manifest, source)
    parts = [score_range(predictor, source, plan, s, False) for s in ranges(source.rows, CHUNK_ROWS)]
    cols = concat(parts)
    if not len(cols["row"]):
        raise InputError(f"{name}: no complete window of {plan.timesteps} consecutive rows of {list(plan.inputs)}.")
    return cols


def _progress(total: int, label: str):
    """A progress bar on a terminal only (rich); no output at all otherwise."""
    return Progress(total, label) if sys.stderr.isatty() and optional.available("rich") else None


def score(args) -> int:
    job = Job(
        args.bundle, args.data, args.backend, args.variant, _columns(args), args.chunk_rows, args.missing == "error"
    )
    if args.engine == "ray":
        from ..data.ray_engine import score_ray

        summary = score_ray(job, args.out, actors=args.actors)
    else:
        from ..data.score import check_paths, results, write

        check_paths(job, args.out)
        plan, predictor, parts, count = results(job, args.threads)
        bar = _progress(count, "score")
        if bar is None:
            summary = write(parts, plan, predictor, job, args.out)
        else:
            with bar as step:
                summary = write(parts, plan, predictor, job, args.out, step)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        d = summary.as_dict()
        print_table(["key", "value"], [[k, v] for k, v in d.items()], title=f"score {args.bundle} on {args.data}")
    return 0


def _reference(args, bundle_path: Path):
    """(factory, name): model.keras when asked for, or by default when TensorFlow is installed; else numpy."""
    want = args.reference
    has_tf = optional.available("tensorflow") and optional.available("keras")
    if want == "numpy" or (want == "auto" and not (has_tf and (bundle_path / "model.keras").is_file())):
        return None, "model.npz (numpy float32)"
    with commands.needs_tensorflow("validate --data --reference keras"):
        from edgernn.export.reference import keras_reference

        optional.require("keras", "validate --data --reference keras")
    return keras_reference, "model.keras"


def validate(args) -> int:
    """`validate B` as before; with --data, every window of the file (exit 0 all pass, 1 a failure)."""
    if args.data is None:
        return commands.validate(args)
    reference, name = _reference(args, args.bundle)
    options = dict(
        backend_names=args.backend or None, variants=args.variant or None, reference=reference,
        reference_name=name, columns=_columns(args), chunk_rows=args.chunk_rows,
    )  # fmt: skip
    if args.engine == "ray":
        from ..data.ray_engine import validate_ray

        report = validate_ray(str(args.bundle), str(args.data), actors=args.actors, **options)
    else:
        from ..data.parity import validate_data

        report = validate_data(args.bundle, args.data, **options)
    if args.plot:
        from .data_plot import plot_errors

        for path in plot_errors(report, args.plot):
            print(f"plot written to {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0 if report.passed else 1
    headers = ["artifact", "variant", "backend", "windows", "max abs err", "p99 abs err", "mean abs err"]
    headers += ["err / range", "tolerance", "result"]
    rows = [
        [r.file, r.variant, r.backend, r.windows, r.max_abs_error, r.p99_abs_error, r.mean_abs_error,
         r.range_relative_error, r.tolerance, "PASS" if r.passed else "FAIL"]
        for r in report.rows
    ]  # fmt: skip
    title = f"validate {args.bundle} on {args.data}: {report.windows} windows vs {report.reference} (model units)"
    print_table(headers, rows, title=title)
    for r in report.rows:
        worst = ", ".join(f"row {w['row']} ({w['abs_error']:.3g})" for w in r.worst)
        print(f"  {r.file} on {r.backend}: " + (r.problem or f"worst windows {worst}"))
    return 0 if report.passed else 1
