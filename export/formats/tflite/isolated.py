"""Run a TFLite conversion in a child process, so a converter crash is an ExportError, not a dead exporter.

Full-integer calibration of recurrent graphs is where the TF converter segfaults (the WHILE form
on TF 2.21, and tensorflow/tensorflow#41305 for LSTMs): a segfault cannot be caught in-process,
and it would take the other variants and the bundle down with it. The child loads the model from a
.keras file (safe mode), converts, and writes the bytes; the parent reads them or reports how the
child ended.

A child imports TensorFlow once (~3 s), so inside `converter_pool()` (every export_bundle) it
serves one conversion after another: a bundle with int8, int16x8, an int8 step model and TFLM's
int8 pays that import once. A child that crashes or times out costs the conversion it was running;
the next one starts a fresh child. Outside a pool each conversion has a child of its own.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edgernn.runtime.errors import ExportError

TIMEOUT_S = 900  # per conversion
_POOL: dict[str, _Child] | None = None  # entry module -> its serving child, inside converter_pool()


def convert_isolated(
    model, variant: str, form: str, calibration: np.ndarray | list | None, module: str = __spec__.name
) -> bytes:
    """Convert `model` to the `variant` .tflite in `form` in a child process; return the bytes.

    `module`: the child's entry point (`python -I -m module`), whose main calls `serve` with its
    converter; a list `calibration` (several inputs, export/stream_variants.py) reaches it as a list.

    Raises:
        ExportError: the converter failed, crashed (the signal is named) or timed out.
    """
    with tempfile.TemporaryDirectory(prefix="edgernn-convert-") as tmp:
        d = Path(tmp)
        model.save(d / "model.keras")
        job = [str(d / "model.keras"), variant, form, str(d / "out.tflite")]
        if isinstance(calibration, list):
            np.savez(d / "calibration.npz", *[np.asarray(a, dtype=np.float32) for a in calibration])
            job.append(str(d / "calibration.npz"))
        elif calibration is not None:
            np.save(d / "calibration.npy", np.asarray(calibration, dtype=np.float32))
            job.append(str(d / "calibration.npy"))
        child = _POOL.pop(module, None) if _POOL is not None else None
        if child is None or not child.alive():
            if child is not None:
                child.close()  # died while idle: its pipes and stderr file go now, not at garbage collection
            child = _Child(module)
        kept = False
        try:
            error = child.run(job, f"the {variant} variant ({form} form)")
            if _POOL is not None:
                _POOL[module], kept = child, True
        finally:  # any other ending (a crash, a timeout, Ctrl-C, a garbled answer) ends the child with it
            if not kept:
                child.close()
        if error is not None:
            raise ExportError(error)
        return (d / "out.tflite").read_bytes()


@contextmanager
def converter_pool() -> Iterator[None]:
    """Within it, isolated conversions reuse one child per entry module; the children end on exit."""
    global _POOL
    if _POOL is not None:  # nested (an export inside an export): the outer pool owns the children
        yield
        return
    _POOL = {}
    try:
        yield
    finally:
        pool, _POOL = _POOL, None
        for child in pool.values():
            child.close()


class _Child:
    """One `python -I -m module` child converting the jobs written to its stdin, one JSON line each.

    It answers each with one JSON line on a private copy of its stdout; anything else the converter
    prints to stdout goes to its stderr, a temporary file read when it fails."""

    def __init__(self, module: str) -> None:
        self.stderr = tempfile.TemporaryFile("a+b")  # appended to by the child whatever the offset the parent reads at
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        # -I, isolated: neither the working directory nor PYTHON* variables reach the child's imports
        args = [sys.executable, "-I", "-m", module]
        try:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env
            )
        except BaseException:
            self.stderr.close()
            raise

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, job: list[str], what: str) -> str | None:
        """The converter's error message for `job`, or None when it wrote the file.

        Raises:
            ExportError: the child crashed (its signal named), exited or took over TIMEOUT_S.
        """
        start = self.stderr.seek(0, os.SEEK_END)  # this job's stderr starts here: earlier jobs' lines are not its
        try:
            self.proc.stdin.write(json.dumps(job).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the reply read below sees the end of its stdout and says how it ended
        line = self._reply(time.monotonic() + TIMEOUT_S, what)
        if line:
            return json.loads(line)["error"]
        code = self.proc.wait()
        if code < 0:
            raise ExportError(
                f"the TF converter crashed ({signal.Signals(-code).name}) while converting {what} "
                "(full-integer calibration of recurrent loops is a known converter crash, tensorflow#41305); "
                "the other variants are unaffected. Use 'dynamic' or 'float16' for this graph."
            )
        self.stderr.seek(start)
        lines = [s for s in self.stderr.read().decode(errors="replace").splitlines() if s.strip()]
        raise ExportError(f"the converter process failed: {lines[-1] if lines else f'exit status {code}'}")

    def _reply(self, deadline: float, what: str) -> bytes:
        """The child's next answer line; b'' when its stdout ended (it died)."""
        out, data = self.proc.stdout.fileno(), b""
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while not data.endswith(b"\n"):
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    self.close()
                    raise ExportError(f"the TFLite converter took over {TIMEOUT_S} s on {what}; stopped.")
                chunk = os.read(out, 65536)
                if not chunk:
                    return b""
                data += chunk
        return data

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            stream.close()


def serve(converter) -> int:
    """The child's side: for each job line on stdin, load the model, `converter(model, variant, form,
    calibration)`, write the bytes, answer {"error": None or the ExportError's message}."""
    from ...keras_io import load_keras

    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever else is printed to stdout lands in stderr, never in an answer
    for line in sys.stdin:
        model_path, variant, form, out, *rest = json.loads(line)
        calibration = np.load(rest[0], allow_pickle=False) if rest else None
        if isinstance(calibration, np.lib.npyio.NpzFile):
            calibration = [calibration[k] for k in sorted(calibration.files, key=lambda k: int(k.split("_")[1]))]
        error = None
        try:
            Path(out).write_bytes(converter(load_keras(model_path), variant, form, calibration))
        except ExportError as exc:
            error = str(exc).replace("\n", " ")
        answers.write(json.dumps({"error": error}) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    from .quantized import tflite_bytes

    sys.exit(serve(tflite_bytes))
