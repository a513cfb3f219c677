"""C backend: compiles the bundle's `model.c` with the host C compiler and calls it through ctypes.

The file is compiled as shipped (`cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -shared -fPIC`),
from the hashed bytes, in a private temp folder; a warning is a load error, as it would stop a
firmware build that uses these flags. `NAME_predict` takes and returns raw units, so windows in
model units are mapped back with the manifest's preprocessing first: the preprocessing compiled
into the C is proven too. Needs a C compiler ($CC, else cc, gcc or clang on PATH); nothing else.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import BackendUnavailableError, ModelLoadError
from ..manifest import ArtifactEntry, FileEntry, Spec

NAME = "c"
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")
SHARED = ("-shared", "-fPIC")
COMPILE_SECONDS = 300
COMPILERS = ("cc", "gcc", "clang")
_FLOATS = ctypes.POINTER(ctypes.c_float)


def compiler() -> str | None:
    """The host C compiler: $CC if set, else the first of cc, gcc, clang on PATH; None when there is none."""
    names = [os.environ["CC"]] if os.environ.get("CC") else list(COMPILERS)
    return next((found for found in map(shutil.which, names) if found), None)


def compile_c(sources: dict[str, bytes], output: str, flags: tuple[str, ...], folder: Path) -> Path:
    """Write `sources` into `folder` and build `output` from the .c files; ModelLoadError with the compiler's words."""
    cc = compiler()
    if cc is None:
        raise BackendUnavailableError(
            "the C backend needs a C compiler and none was found ($CC, cc, gcc, clang); install one "
            "(e.g. apt-get install gcc) or pick another backend."
        )
    for name, data in sources.items():
        (folder / name).write_bytes(data)
    c_files = [name for name in sources if name.endswith(".c")]
    cmd = [cc, *CFLAGS, *flags, *c_files, "-o", output, "-lm"]
    try:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=COMPILE_SECONDS)
    except subprocess.TimeoutExpired:
        raise ModelLoadError(
            f"{c_files}: the compiler ran past {COMPILE_SECONDS} s; the file is not a model."
        ) from None
    if done.returncode != 0:
        raise ModelLoadError(f"{c_files} do not compile with {' '.join(cmd[:-3])}:\n{done.stderr[-2000:]}")
    return folder / output


def run_test_program(sources: dict[str, bytes], seconds: float = 120) -> tuple[bool, str]:
    """Build model.c + model_test.c (+ model.h) on the host and run it: (exited 0, its output line).

    Raises:
        BackendUnavailableError: no C compiler. ModelLoadError: the files do not compile.
    """
    with tempfile.TemporaryDirectory(prefix="edgernn-ctest-") as tmp:
        exe = compile_c(sources, "model_test", (), Path(tmp))
        try:
            done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=seconds)
        except subprocess.TimeoutExpired:
            return False, f"the test program ran past {seconds} s"
    return done.returncode == 0, (done.stdout.strip() or f"exit {done.returncode}")[-500:]


def self_test(read: Callable[[FileEntry], bytes], entry: ArtifactEntry) -> tuple[str, bool, str] | None:
    """Run the bundle's test program for this model.c (validate calls it): (its file, passed, its output
    line), or None when the artifact lists no test program. `read` returns a companion's checked bytes."""
    files = [FileEntry.parse(c, f"{entry.file} companion", entry.file) for c in entry.extra.get("companions") or ()]
    header = next((f for f in files if f.file.endswith(".h")), None)
    test = next((f for f in files if f.file.endswith(".c")), None)
    if header is None or test is None:
        return None
    passed, line = run_test_program({entry.file: read(entry), header.file: read(header), test.file: read(test)})
    return test.file, passed, line


def _prefix(entry: ArtifactEntry) -> str:
    prefix = entry.extra.get("prefix")
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z_]\w{0,62}", prefix):
        raise ModelLoadError(f"{entry.file}: the manifest names no C symbol prefix ('prefix'); re-export the bundle.")
    return prefix


class CLibrary:
    """model.c compiled into a shared library: predict, reset and step on raw-unit float32 arrays."""

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec) -> None:
        self.prefix, self.spec = _prefix(entry), spec
        with tempfile.TemporaryDirectory(prefix="edgernn-c-") as tmp:
            lib = compile_c({"model.c": content}, "libmodel.so", SHARED, Path(tmp))
            self.lib = ctypes.CDLL(str(lib))  # mapped: the file may go
        self.predict_fn = self._function("predict")
        self.state_size = int(sum(entry.extra.get("state_widths") or ()))
        self.can_step = bool(entry.extra.get("can_step")) and self.state_size > 0
        if self.can_step:
            self.reset_fn, self.step_fn = self._function("reset"), self._function("step")

    def _function(self, name: str):
        try:
            fn = getattr(self.lib, f"{self.prefix}_{name}")
        except AttributeError:
            raise ModelLoadError(f"model.c defines no {self.prefix}_{name}(); re-export the bundle.") from None
        fn.restype = None
        return fn

    def predict(self, x_raw: np.ndarray) -> np.ndarray:
        """(batch, T, F) raw units -> (batch, OUT) or (batch, T, OUT) raw units, one call per window."""
        x = np.ascontiguousarray(x_raw, dtype=np.float32)
        shape = (self.spec.out_steps, self.spec.outputs) if self.spec.sequence_output else (self.spec.outputs,)
        y = np.zeros((len(x), *shape), np.float32)
        for xb, yb in zip(x, y):
            self.predict_fn(xb.ctypes.data_as(_FLOATS), yb.ctypes.data_as(_FLOATS))
        return y

    def stream(self, xs_raw: np.ndarray) -> np.ndarray:
        """Step (batch, steps, F) raw samples from a reset state, one state per batch row -> (batch, steps, OUT)."""
        if not self.can_step:
            raise ModelLoadError(f"{self.prefix}: this model has no step function (Bidirectional or go_backwards).")
        xs = np.ascontiguousarray(xs_raw, dtype=np.float32)
        ys = np.zeros((*xs.shape[:2], self.spec.outputs), np.float32)
        state = (ctypes.c_float * self.state_size)()
        for xb, yb in zip(xs, ys):
            self.reset_fn(state)
            for x_t, y_t in zip(xb, yb):
                self.step_fn(state, x_t.ctypes.data_as(_FLOATS), y_t.ctypes.data_as(_FLOATS))
        return ys


class CBackend:
    name = NAME  # the library keeps no state between calls (state lives in the caller's struct)

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec) -> None:
        self.library, self.spec = CLibrary(content, entry, spec), spec
        self.input_shape = [None, spec.timesteps, spec.features]
        self.output_shape = [None, spec.out_steps, spec.outputs] if spec.sequence_output else [None, spec.outputs]

    def run(self, x: np.ndarray) -> np.ndarray:
        """The window runners' units: raw for a folded bundle (the Predictor maps nothing then), else model
        units; the C itself always takes and returns raw units (its maps are compiled in)."""
        if self.spec.folded:
            return self.library.predict(x)
        return self.spec.y.to_model(self.library.predict(self.spec.x.to_raw(x)))


def open(content: bytes, entry: ArtifactEntry, spec: Spec) -> CBackend:  # noqa: A001 - registry API
    return CBackend(content, entry, spec)
