"""Run a not-yet-proven model file once in a child process, so an interpreter crash is a typed error.

    run_isolated("litert", content, entry, spec, inputs)   # ModelLoadError naming the signal

Export writes files no runtime has loaded yet: a converter's own output can crash the interpreter
(LiteRT's allocate_tensors segfaults on some int8 files), and a segfault cannot be caught in the
exporting process. The child (`python -I`, under the limits of `isolate.Limits`) opens the bytes
with the same backend and runs the inputs through them, exactly as the parent is about to; only
after it exits cleanly does the parent open the file itself. Costs one child start (no TensorFlow)
per file and backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .blocks import StreamingBlock
from .errors import ModelLoadError
from .isolate import Limits, _signal_name
from .manifest_json import input_json, output_json, parse_spec, preprocessing_json
from .records import ArtifactEntry, Spec

_ENTRY_FIELDS = ("file", "format", "variant", "role", "graph_form", "batch", "reset_variables")  # and extra
CHILD = "from edgernn.runtime.isolate_file import child; child()"


def run_isolated(
    backend: str,
    content: bytes,
    entry: ArtifactEntry,
    spec: Spec,
    inputs: np.ndarray | list[np.ndarray],
    limits: Limits | None = None,
    streaming: StreamingBlock | None = None,
) -> None:
    """Open `content` as the window model `entry` in `backend` in a child and run `inputs` (an array, or
    a list of arrays of different sequence lengths, run one by one) through it; with `streaming`, as a
    step model stepped through them (batch, steps, features) in model units.

    Raises:
        ModelLoadError: the child died by a signal (named), hit a limit or the timeout, or the backend
            refused the file (its message).
    """
    limits = limits or Limits(cpu=300, timeout=300.0)
    with tempfile.TemporaryDirectory(prefix="edgernn-prove-") as tmp:
        d = Path(tmp)
        (d / "model").write_bytes(content)
        arrays = inputs if isinstance(inputs, list) else [inputs]
        np.savez(d / "inputs.npz", *[np.asarray(a) for a in arrays])
        request = {
            "dir": str(d),
            "backend": backend,
            "entry": {**{k: getattr(entry, k) for k in _ENTRY_FIELDS}, "extra": dict(entry.extra)},
            "spec": _spec_json(spec),
            "streaming": streaming.to_json() if streaming is not None else None,
            "memory": limits.memory,
            "cpu": limits.cpu,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(ORT_DISABLE_TELEMETRY="1", TF_CPP_MIN_LOG_LEVEL="3")
        command = [sys.executable, "-I", "-c", CHILD, json.dumps(request, default=_plain)]
        where = f"{entry.file} in {backend}"
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=limits.timeout, env=env)
        except subprocess.TimeoutExpired:
            raise ModelLoadError(f"{where}: did not finish within {limits.timeout:g} s in an isolated child.") from None
    lines = proc.stdout.splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    if proc.returncode < 0 or result is None:
        died = _signal_name(-proc.returncode) if proc.returncode < 0 else f"exit {proc.returncode}"
        raise ModelLoadError(
            f"{where}: loading and running it killed an isolated child ({died}): the runtime cannot run this "
            f"file safely. {proc.stderr.strip()[-200:]}"
        )
    if result.get("error"):
        raise ModelLoadError(f"{where} (isolated child): {result['error']}")


def _plain(value):
    """numpy scalars and arrays in an entry's extra block, as JSON."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _spec_json(spec: Spec) -> dict:
    """The spec as manifest.json writes it (every field: token inputs, several heads, free lengths)."""
    return {"input": input_json(spec), "output": output_json(spec), "preprocessing": preprocessing_json(spec)}


def _spec(raw: dict) -> Spec:
    return parse_spec(raw, "the isolated proof's request")


def child() -> None:
    """The child's side: limits, open, run; one JSON line at the end."""
    import resource

    from . import backends

    request = json.loads(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu"], request["cpu"] + 2))
    d = Path(request["dir"])
    try:
        entry, spec = ArtifactEntry(**request["entry"]), _spec(request["spec"])
        content = (d / "model").read_bytes()
        with np.load(d / "inputs.npz", allow_pickle=False) as saved:
            arrays = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if request["streaming"] is not None:
            from .stream import StepModel

            block = StreamingBlock.parse(request["streaming"], "the step model")
            run = StepModel.load(request["backend"], content, entry, spec, block).run_model_units
        else:
            run = backends.open_window(request["backend"], content, entry, spec).run
        for x in arrays:
            run(x)
        print(json.dumps({"error": None}), flush=True)
    except MemoryError:
        print(json.dumps({"error": "the memory limit was reached"}), flush=True)
    except Exception as exc:  # a typed refusal, or the runtime's own error on this file
        print(json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:2000]}"}), flush=True)
