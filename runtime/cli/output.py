"""CLI output for validate and bench: a rich table on a terminal, the plain table otherwise.

Only CLI commands import this module; rich is imported inside it, never on the load/predict path.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Callable

from .. import optional
from .table import fmt, render


def _rich_console():
    """A rich Console when rich is installed and stdout is a terminal, else None (plain text)."""
    if not sys.stdout.isatty() or not optional.available("rich"):
        return None
    from rich.console import Console

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
        table.add_column(
            h, justify="left" if h in ("artifact", "variant", "backend", "reference", "result") else "right"
        )
    for row in rows:
        cells = [fmt(v) for v in row]
        cells = [f"[green]{c}[/]" if c == "PASS" else f"[bold red]{c}[/]" if c == "FAIL" else c for c in cells]
        table.add_row(*cells)
    console.print(table)


class Progress:
    """A progress bar on a terminal (rich), else one line per step on stderr. Use as a context manager.

    `Progress.quiet = True` (edgernn -q) shows neither.
    """

    quiet = False

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self._bar = None

    def __enter__(self) -> Callable[[str], None]:
        if self.quiet:
            return lambda what: None
        if sys.stderr.isatty() and optional.available("rich"):
            from rich.progress import Progress as RichProgress

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


def print_notes(notes: list[str]) -> None:
    """Indented lines under a table: each row's problem, each artifact skipped and why."""
    for note in notes:
        print(f"  {note}")
