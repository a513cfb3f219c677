"""CLI output for validate and bench: a rich table on a terminal, the plain table otherwise.

Only CLI commands import this module; rich is imported inside it, never on the load/predict path.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Callable, Sequence

from .table import fmt, render


def _rich_console():
    """A rich Console when rich is installed and stdout is a terminal, else None (plain text)."""
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Print a table: rich on a terminal (when installed), the fixed-width plain form otherwise."""
    console = _rich_console()
    plain = render(headers, rows, title=title)
    # rich shrinks columns with ellipses when the terminal is too narrow: never hide digits.
    needed = max(len(line) for line in plain.splitlines()) + 2 * len(headers) + 1
    if console is None or needed > console.width:
        print(plain)
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for h in headers:
        table.add_column(h, justify="left" if h in ("artifact", "variant", "backend", "reference", "result") else "right")
    for row in rows:
        cells = [fmt(v) for v in row]
        cells = [f"[green]{c}[/]" if c == "PASS" else f"[bold red]{c}[/]" if c == "FAIL" else c for c in cells]
        table.add_row(*cells)
    console.print(table)


class Progress:
    """A progress bar on a terminal (rich), else one line per step on stderr. Use as a context manager."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self._bar = None

    def __enter__(self) -> Callable[[str], None]:
        if sys.stderr.isatty():
            try:
                from rich.progress import Progress as RichProgress
            except ImportError:
                RichProgress = None
            if RichProgress is not None:
                self._bar = RichProgress(transient=True)
                self._bar.start()
                self._task = self._bar.add_task(self.label, total=self.total)
        return self.step

    def step(self, what: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"{self.label}: {what}")
        else:
            print(f"{self.label}: {what}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def validate_command(args) -> int:
    """`edgernn validate`: exit 0 when every row passes, 1 when one fails, 2 when the bundle is unreadable."""
    from .errors import IntegrityError, ManifestError
    from .validate import validate

    try:
        rows = validate(args.bundle, args.backend or None, args.variant or None, fresh=args.fresh)
    except (ManifestError, IntegrityError) as exc:
        if args.json:
            print(json.dumps({"bundle": str(args.bundle), "passed": False, "error": f"{type(exc).__name__}: {exc}",
                              "rows": []}, indent=2))
        print(f"edgernn validate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    ok = bool(rows) and all(r.passed for r in rows)
    if args.json:
        print(json.dumps({"bundle": str(args.bundle), "passed": ok, "rows": [r.as_dict() for r in rows]}, indent=2))
        return 0 if ok else 1
    table = [[r.file, r.variant, r.backend, r.reference, r.max_abs_error, r.max_rel_error, r.tolerance,
              "PASS" if r.passed else "FAIL"] for r in rows]
    print_table(["artifact", "variant", "backend", "reference", "max abs err", "max rel err", "tolerance", "result"],
                table, title=f"validate {args.bundle}")
    for r in rows:
        if r.problem:
            print(f"  {r.file} on {r.backend}: {r.problem}")
    if not rows:
        print("no artifact could run: install a backend (pip install 'edgernn[litert]' or 'edgernn[onnx]').")
    return 0 if ok else 1


def demo_tables(bundles: Sequence[str]) -> bool:
    """The end of `edgernn demo`: one validate table and one bench table over the given bundles.

    Returns True when every validation row passed. Bench here skips the Keras baselines (the demo
    table above already times Keras) and takes one cold start per pair, to keep the demo short.
    """
    from pathlib import Path

    from .bench import bench
    from .bench_report import HEADERS, table_rows
    from .validate import validate

    rows, ok = [], True
    for b in bundles:
        for r in validate(b):
            ok = ok and r.passed
            rows.append([Path(b).name, r.file, r.backend, r.max_abs_error, r.tolerance, "PASS" if r.passed else "FAIL"])
    print_table(["bundle", "artifact", "backend", "max abs err", "tolerance", "result"], rows,
                title="\nvalidate: golden vectors x artifacts x backends")
    bench_rows = []
    with Progress(len(bundles), "bench") as step:
        for b in bundles:
            step(Path(b).name)
            result = bench(b, baselines=False, cold_runs=1, max_seconds=0.3)
            bench_rows += [[Path(b).name, *row] for row in table_rows(result)]
    print_table(["bundle", *HEADERS], bench_rows, title="\nbench: Predictor.predict, batch-1 latency and throughput")
    return ok
