"""Run a TFLite conversion in a child process, so a converter crash is an ExportError, not a dead exporter.

Full-integer calibration of recurrent graphs is where the TF converter segfaults (the WHILE form
on TF 2.21, and tensorflow/tensorflow#41305 for LSTMs): a segfault cannot be caught in-process,
and it would take the other variants and the bundle down with it. The child loads the model from a
.keras file (safe mode), converts, and writes the bytes; the parent reads them or reports how the
child ended. Costs one TensorFlow import (a few seconds) per isolated conversion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgernn.runtime.errors import ExportError

TIMEOUT_S = 900
_ERROR_EXIT = 3  # the child raised an ExportError; its message is on stderr


def convert_isolated(
    model, variant: str, form: str, calibration: np.ndarray | list | None, module: str = __spec__.name
) -> bytes:
    """Convert `model` to the `variant` .tflite in `form` in a child process; return the bytes.

    `module`: the child's entry point (`python -I -m module`), whose main calls `child_main` with its
    converter; a list `calibration` (several inputs, export/stream_variants.py) reaches it as a list.

    Raises:
        ExportError: the converter failed, crashed (the signal is named) or timed out.
    """
    with tempfile.TemporaryDirectory(prefix="edgernn-convert-") as tmp:
        d = Path(tmp)
        model.save(d / "model.keras")
        args = [
            sys.executable,
            "-I",  # isolated: neither the working directory nor PYTHON* variables reach the child's imports
            "-m",
            module,
            str(d / "model.keras"),
            variant,
            form,
            str(d / "out.tflite"),
        ]
        if isinstance(calibration, list):
            np.savez(d / "calibration.npz", *[np.asarray(a, dtype=np.float32) for a in calibration])
            args.append(str(d / "calibration.npz"))
        elif calibration is not None:
            np.save(d / "calibration.npy", np.asarray(calibration, dtype=np.float32))
            args.append(str(d / "calibration.npy"))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired as exc:
            raise ExportError(
                f"the TFLite converter took over {TIMEOUT_S} s on the {variant} variant ({form} form); stopped."
            ) from exc
        if proc.returncode == 0:
            return (d / "out.tflite").read_bytes()
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            raise ExportError(
                f"the TF converter crashed ({name}) while converting the {variant} variant in the {form} form "
                "(full-integer calibration of recurrent loops is a known converter crash, tensorflow#41305); "
                "the other variants are unaffected. Use 'dynamic' or 'float16' for this graph."
            )
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ExportError(detail if proc.returncode == _ERROR_EXIT else f"the converter process failed: {detail}")


def child_main(argv: list[str], converter) -> int:
    """The child's side: load the model, `converter(model, variant, form, calibration)`, write the bytes."""
    from ...keras_io import load_keras

    model_path, variant, form, out = argv[:4]
    calibration = np.load(argv[4], allow_pickle=False) if len(argv) > 4 else None
    if isinstance(calibration, np.lib.npyio.NpzFile):
        calibration = [calibration[k] for k in sorted(calibration.files, key=lambda k: int(k.split("_")[1]))]
    try:
        content = converter(load_keras(model_path), variant, form, calibration)
    except ExportError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return _ERROR_EXIT
    Path(out).write_bytes(content)
    return 0


if __name__ == "__main__":
    from .quantized import tflite_bytes

    sys.exit(child_main(sys.argv[1:], tflite_bytes))
