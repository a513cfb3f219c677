"""edgernn.runtime.cli: the `edgernn` command, its tables, progress, plots and benchmarks.

Not part of the device core: an app that only predicts imports `edgernn.runtime`, never this.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
