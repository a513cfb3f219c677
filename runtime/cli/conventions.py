"""What every `edgernn` command shares: exit codes, verbosity, quiet third-party logs, pipes and Ctrl-C.

Exit codes (docs/cli.md): 0 ok, 1 a check failed, 2 usage error (argparse's own, and values that do not
fit the model), 3 the bundle is unreadable, tampered or unsigned, 4 an optional dependency is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator

from .. import optional
from ..errors import (
    BackendUnavailableError,
    EdgeRNNError,
    InputError,
    IntegrityError,
    ManifestError,
    MissingExtraError,
    ModelLoadError,
    SignatureError,
)

OK, CHECK_FAILED, USAGE, UNREADABLE, MISSING_EXTRA = 0, 1, 2, 3, 4
INTERRUPTED, CLOSED_PIPE = 130, 141  # the shell's codes for SIGINT and SIGPIPE

# Lines native libraries print on their own stderr (fd 2) that tell a user nothing; shown with -v.
NOISE = (
    re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate"),
    re.compile(r"^INFO: Initialized TensorFlow Lite runtime"),
    re.compile(r"^WARNING: All log messages before absl::InitializeLog"),
    re.compile(r"^\S+ \d\d:\d\d:\d\d\.\d+: [IW] "),  # absl/TF C++ info and warning lines
    re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d"),  # glog info and warning lines
)


def exit_code(exc: EdgeRNNError) -> int:
    """The documented exit code of an error class."""
    if isinstance(exc, (MissingExtraError, BackendUnavailableError)):
        return MISSING_EXTRA
    if isinstance(exc, (ManifestError, IntegrityError, ModelLoadError, SignatureError)):
        return UNREADABLE
    if isinstance(exc, InputError):
        return USAGE
    return CHECK_FAILED


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option's help; the examples epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, [], "", argparse.SUPPRESS) or "%(default)" in text:
            return text
        return super()._get_help_string(action)


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("edgernn")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def verbosity_options() -> argparse.ArgumentParser:
    """-q/-v as a parent parser: accepted before or after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print results and errors only"
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="show progress details and third-party logs (TensorFlow, LiteRT, onnxruntime)",
    )
    return common


def verbosity(args: argparse.Namespace) -> int:
    """-1 quiet, 0 default, 1+ verbose."""
    return -1 if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0) or 0)


def quiet_python_logs(level: int) -> None:
    """Third-party Python logging and warnings at error level, unless -v."""
    if level > 0:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        logging.basicConfig(level=logging.INFO)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # only matters for the commands that import TF
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization logs on the root logger
    for name in ("tensorflow", "tf2onnx", "absl", "onnxruntime", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


@contextlib.contextmanager
def filtered_native_stderr(enabled: bool) -> Iterator[None]:
    """Catch what native code writes to fd 2; on exit, pass on every line but the known NOISE.

    Python's own stderr keeps writing to the terminal at once (sys.stderr is re-pointed at a copy of
    the real fd 2), so progress and errors are not delayed; only C/C++ writes go through the filter.
    """
    if not enabled or sys.stderr is not sys.__stderr__:  # a caller that captures stderr keeps it
        yield
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        capture = tempfile.TemporaryFile()
        os.dup2(capture.fileno(), 2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (embedded, pytest capture): nothing to filter
        yield
        return
    saved = sys.stderr
    sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(real, 2)
        os.close(real)
        with contextlib.suppress(Exception):
            sys.stderr.close()
        sys.stderr = saved
        capture.seek(0)
        lines = capture.read().decode("utf-8", "replace").splitlines()
        capture.close()
        kept = [line for line in lines if line.strip() and not any(p.search(line) for p in NOISE)]
        if kept:
            print("\n".join(kept), file=sys.stderr)


@contextlib.contextmanager
def needs_tensorflow(purpose: str) -> Iterator[None]:
    """TensorFlow/Keras missing (at import or at first use deep inside training) -> MissingExtraError."""
    try:
        yield
    except ModuleNotFoundError as exc:
        top = optional.is_missing(exc)
        if top is None:
            raise
        raise optional.missing(top, purpose) from None


_watching: dict = {}  # the wakeup pipe of exit_on_interrupt, and the command to name


def exit_on_interrupt(command: str, grace: float = 1.0) -> None:
    """Ctrl-C ends the command (exit 130, no traceback) even while native code holds the main thread.

    Python runs its SIGINT handler only between the main thread's bytecodes, which a hung kernel (a
    LiteRT WHILE that never ends; LiteRT has no way to cancel an invoke) never reaches. The C-level
    handler also writes the signal number to a wakeup pipe: a watcher thread reads it, gives the main
    thread `grace` seconds to unwind as usual (KeyboardInterrupt, main's exit 130), then exits 130 itself.
    Both runtimes release the GIL while they run, so the watcher gets to run.
    """
    import _thread  # threading itself costs the cold start
    import signal
    import time

    _watching["command"] = command
    if "pipe" in _watching:  # one watcher per process, however often main() runs in it
        return
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    try:
        signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    except ValueError:  # not the main thread (main() called from an embedding app's worker): leave it
        os.close(reader)
        os.close(writer)
        return
    _watching["pipe"] = (reader, writer)

    def interrupt(signum, frame) -> None:  # Python's own behaviour, remembered: a native module's import
        _watching["interrupted"] = True  # turns the KeyboardInterrupt into ImportError("initialization failed")
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)

    def watch() -> None:
        while signal.SIGINT not in os.read(reader, 64):
            pass
        time.sleep(grace)
        with contextlib.suppress(Exception):
            print(f"edgernn {_watching['command']}: interrupted", file=sys.stderr, flush=True)
        os._exit(INTERRUPTED)

    _thread.start_new_thread(watch, ())


def interrupted() -> bool:
    """Whether Ctrl-C was pressed during this command (an error it caused then still exits 130)."""
    return bool(_watching.get("interrupted"))


def closed_pipe() -> int:
    """stdout's reader went away (`edgernn info x | head -1`): stop quietly, no traceback at exit."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE
