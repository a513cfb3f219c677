"""Run an untrusted bundle first in a child process, under limits, so a crash or hang is a typed error.

    probe(bundle, "litert", "float32")   # ModelLoadError naming the signal, limit or timeout

A file whose graph only misbehaves when it runs (a WHILE that never ends, a shape computed at run
time that asks for gigabytes, a kernel that segfaults) cannot be refused by reading it. The child
(`python -I`: the working directory and PYTHON* variables never reach its imports) sets an address
space and CPU-time limit on itself, opens the same bundle, checks that it reads the very manifest
the parent read (sha256), and runs the golden vectors through the window model and the step model
of each artifact asked for. The parent waits at most `timeout` seconds and kills it after that.
`load(..., isolate=True)` and `validate --isolate` call this; the parent then opens the bundle
itself, checking every file against the same manifest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import errors
from .errors import EdgeRNNError, ModelLoadError


@dataclass(frozen=True)
class Limits:
    """What the child may use: address space (bytes), CPU seconds, wall-clock seconds."""

    memory: int = 4 << 30
    cpu: int = 60
    timeout: float = 60.0


CHILD = "from edgernn.runtime.isolate_child import child; child()"


def probe(bundle, pairs: Sequence[tuple[str, str]], limits: Limits | bool = True) -> None:
    """Open and run the artifacts `pairs` ((backend, file) each) of the open Bundle `bundle` in a child.

    Raises:
        ModelLoadError: the child died by a signal, hit a limit or the timeout (the artifact it was on
            is named); or the edgernn error the child raised, of the same type.
    """
    limits = limits if isinstance(limits, Limits) else Limits()
    request = {"path": os.fspath(bundle.path), "sha256": bundle.manifest.text_sha256, "pairs": list(pairs)}
    request.update(memory=limits.memory, cpu=limits.cpu)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(ORT_DISABLE_TELEMETRY="1", TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-I", "-c", CHILD, json.dumps(request)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=limits.timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(
            f"{bundle.path}: {_last(exc.stdout)} did not finish within {limits.timeout:g} s in an isolated child "
            "(a hang, or a graph that loops); not loaded."
        ) from None
    lines = proc.stdout.splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    if proc.returncode < 0 or result is None:
        died = _signal_name(-proc.returncode) if proc.returncode < 0 else f"exit {proc.returncode}"
        cpu_limit = proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
        cpu_limit = proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
        hint = f" (the CPU-time limit of {limits.cpu} s)" if cpu_limit else ""
        raise ModelLoadError(
            f"{bundle.path}: {_last(proc.stdout)} killed the isolated child ({died}{hint}); not loaded. "
            f"{proc.stderr.strip()[-300:]}"
        )
    if result.get("error"):
        kind = getattr(errors, result["error"], None)
        kind = kind if isinstance(kind, type) and issubclass(kind, EdgeRNNError) else ModelLoadError
        raise kind(f"in an isolated child: {result['message']}")


def _last(stdout: str | bytes | None) -> str:
    """The artifact the child was running when it stopped (its last 'run' line)."""
    text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else stdout or ""
    runs = [line[4:] for line in text.splitlines() if line.startswith("run ")]
    return runs[-1] if runs else "loading the bundle"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
