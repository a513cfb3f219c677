"""The `edgernn` command line: the parser and the exit codes; each command is in commands.py.

Commands that need TensorFlow (train, report, export, demo, validate --fresh, the bench baselines)
import it lazily and name the extra to install when it is missing. Arguments are checked before any
heavy import; exit codes, -q/-v and the quiet third-party logs are in conventions.py (docs/cli.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..checks import printable_text
from ..errors import EdgeRNNError
from . import commands, conventions, data_cli, trust
from .examples import comma_list, epilog, floats
from .output import Progress


def bundle_filters(p: argparse.ArgumentParser) -> None:
    """validate's and bench's shared arguments: the bundle, and which artifacts x backends to run."""
    p.add_argument("bundle", type=Path, help="bundle directory")
    p.add_argument("--backend", action="append", default=[], help="only this backend (repeatable; default: all)")
    p.add_argument("--variant", action="append", default=[], help="only these variants (repeatable; default: all)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    common = conventions.verbosity_options()
    parser = argparse.ArgumentParser(
        prog="edgernn",
        description="Keras RNNs to TFLite/ONNX/numpy bundles, proven against Keras, run without TF.",
        epilog="run 'edgernn COMMAND --help' for a command's options and examples; docs/cli.md for all",
        parents=[common],
        formatter_class=conventions.HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgernn {conventions.version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=epilog(name),
            parents=[common],
            formatter_class=conventions.HelpFormatter,
        )

    p = add("train", help="train a model (needs edgernn[train])")
    p.add_argument("--cell", choices=commands.CELLS, default="simple_rnn", help="recurrent cell")
    p.add_argument("--units", type=int, default=10, help="units of the recurrent layer")
    p.add_argument("--epochs", type=int, default=100, help="most epochs (a file stops early on validation loss)")
    p.add_argument(
        "--data",
        default="seed",
        help="'seed' (the tutorial's six windows), 'seed_sequence' (next value at every step), or FILE.csv|FILE.npy",
    )
    p.add_argument("--columns", help="input columns, comma separated (default: every numeric column)")
    p.add_argument("--target", help="target column(s), comma separated (default: the first input column)")
    p.add_argument("--timesteps", type=int, help="window length T (default 12 for a file)")
    p.add_argument("--horizon", type=int, default=1, help="predict the value H steps after the window")
    p.add_argument("--streaming", action="store_true", help="also write step models for Predictor.stream()")
    p.add_argument(
        "--date-format",
        dest="date_format",
        help="strptime format of the date column (e.g. %%m/%%d/%%Y); default: inferred once per column",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and splits")
    p.add_argument("--out", required=True, type=Path, help="bundle directory to write")
    p.set_defaults(func=commands.train)

    p = add(
        "report", help="seed recipe vs improved recipe per cell, and plots of series bundles (needs edgernn[train,cli])"
    )
    p.add_argument("bundles", type=Path, nargs="*", metavar="DIR", help="bundles trained with --data FILE to plot")
    p.add_argument("--out", type=Path, default=Path("out/report"), help="folder for the tables and PNGs")
    p.add_argument("--no-seed", action="store_true", help="skip the seed comparison (no training)")
    p.set_defaults(func=commands.report)

    p = add("export", help="export a .keras model to a bundle (needs edgernn[train])")
    p.add_argument("model", type=Path, help="MODEL.keras, or a bundle directory holding model.keras")
    p.add_argument("--out", required=True, type=Path, help="bundle directory to write (replaced atomically)")
    p.add_argument(
        "--formats", default="tflite,onnx,numpy", type=comma_list(None, "format"), help="artifact formats (also: c)"
    )
    p.add_argument(
        "--scale",
        type=floats,
        help="x_model = (x_raw - offset) * scale; comma list per feature (default 1, or the source bundle's)",
    )
    p.add_argument("--offset", type=floats, help="input offset (default 0, or the source bundle's)")
    p.add_argument(
        "--output-scale", dest="output_scale", type=floats, help="y_raw = y_model / scale + offset (default: --scale)"
    )
    p.add_argument("--output-offset", dest="output_offset", type=floats, help="output offset (default: --offset)")
    p.add_argument(
        "--preprocessing", type=Path, metavar="FILE.json", help="both mappings from a manifest's preprocessing block"
    )
    p.add_argument(
        "--override-preprocessing",
        dest="override_preprocessing",
        action="store_true",
        help="re-exporting a bundle: accept a mapping that differs from the source bundle's",
    )
    p.add_argument("--streaming", action="store_true", help="also write step models (state in/out) for streaming")
    p.add_argument(
        "--timesteps", type=int, help="fix a free-T model's window length (Input((None, F))): the unrolled forms apply"
    )
    p.add_argument(
        "--quantize",
        default="",
        type=comma_list(None, "variant", allow_empty=True),
        help="quantized variants to add: comma list of dynamic,float16,int8,int16x8,int8-float-tail,tflm,tflm-int8",
    )
    p.add_argument(
        "--calibration", type=Path, help="WINDOWS.npy (n, timesteps, features) in raw units for int8 calibration"
    )
    p.add_argument(
        "--max-error",
        dest="max_error",
        help="refuse a variant beyond this max abs error (model units, or N%% of the output range)",
    )
    p.add_argument("--sign", metavar="KEY", help="sign the bundle with this PEM private key (needs edgernn[sign])")
    p.set_defaults(func=commands.export)

    p = add("predict", help="predict one window given in raw units (or, with --stream, one per sample)")
    p.add_argument("bundle", type=Path, help="bundle directory")
    p.add_argument(
        "values",
        type=data_cli.value,
        nargs="+",
        metavar="VALUE",
        help="raw values, time-major (features per step), or '-' for stdin",
    )
    p.add_argument(
        "--stream", action="store_true", help="the values are samples fed one at a time; one prediction each"
    )
    p.add_argument("--backend", default="auto", help="onnxruntime, litert, numpy, or auto (the fastest installed)")
    p.add_argument("--variant", default="float32", help="float32 or a quantized variant the bundle holds")
    p.add_argument("--allow-nonfinite", dest="allow_nonfinite", action="store_true", help="run NaN/inf values too")
    p.add_argument(
        "--timeout", type=float, metavar="S", help="stop the call after S seconds (onnxruntime only; exit 1)"
    )
    p.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="with --stream: the stream against full-window answers"
    )
    add_threads(p)
    p.set_defaults(func=commands.predict)
    data_cli.predict_options(p)

    p = add("validate", help="golden vectors x artifacts x backends; exit 1 on failure, 3 if unreadable")
    bundle_filters(p)
    p.add_argument(
        "--fresh",
        type=int,
        default=0,
        metavar="N",
        help="also compare with model.keras on N new random windows (needs edgernn[train])",
    )
    p.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="first run every artifact in a child process under limits (default: unless EDGERNN_TRUSTED_KEYS is set)",
    )
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="wall-clock limit of the --isolate child (CPU: S+1)"
    )
    add_threads(p)
    p.set_defaults(func=commands.validate)
    data_cli.validate_options(p)
    data_cli.add_score(sub)

    p = add("bench", help="size, load time, cold start, latency and throughput per artifact x backend")
    bundle_filters(p)
    p.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="latency p50/p90/p99 and throughput chart (needs edgernn[cli])"
    )
    p.add_argument("--cold-runs", type=int, default=3, help="fresh processes per cold-start figure (0: skip)")
    p.add_argument("--no-baselines", action="store_true", help="skip the Keras predict/eager baselines")
    add_threads(p, "threads of the batch-1024 'all cores' throughput figure (default: every core)", 0)
    p.set_defaults(func=commands.bench)

    p = add("info", help="what a bundle holds")
    p.add_argument("bundle", type=Path, help="bundle directory")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=commands.info)

    p = add("demo", help="the main job: train, export, check and time the seed models")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the bundles and plots")
    p.add_argument("--epochs", type=int, default=100, help="epochs of the seed (tutorial) recipe")
    p.add_argument(
        "--quantize",
        default="dynamic,float16,int8,int16x8,int8-float-tail",
        type=comma_list(None, "variant", allow_empty=True),
        help="variants for the LSTM bundles ('none' to skip)",
    )
    p.set_defaults(func=commands.demo)
    trust.add_commands(sub)
    return parser


def add_threads(p: argparse.ArgumentParser, text: str = "", default: int = 1) -> None:
    text = text or "threads for batches of 128+ windows (split over copies of the model); 0: every core; default 1"
    p.add_argument("--threads", type=int, default=default, metavar="N", help=text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (0 ok, 1 check failed, 2 usage, 3 unreadable, 4 missing extra)."""
    for stream in (sys.stdout, sys.stderr):  # an undecodable file name must not end in UnicodeEncodeError
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    level = conventions.verbosity(args)
    conventions.quiet_python_logs(level)
    args.verbosity = level
    Progress.quiet = level < 0
    if argv is None:  # run as the program (not main([...]) inside an app or a test): Ctrl-C ends it even in a hang
        conventions.exit_on_interrupt(args.command)
    try:
        with conventions.filtered_native_stderr(level <= 0):
            code = args.func(args)
        sys.stdout.flush()  # a closed pipe raises here, not in the interpreter's exit (a traceback there)
        return code
    except EdgeRNNError as exc:
        if conventions.interrupted():  # e.g. a runtime's import cut short by Ctrl-C: a ModelLoadError
            print(f"edgernn {args.command}: interrupted", file=sys.stderr)
            return conventions.INTERRUPTED
        print(f"edgernn {args.command}: {type(exc).__name__}: {printable_text(exc)}", file=sys.stderr)
        return conventions.exit_code(exc)
    except BrokenPipeError:
        return conventions.closed_pipe()
    except KeyboardInterrupt:
        print(f"edgernn {args.command}: interrupted", file=sys.stderr)
        return conventions.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
