"""onnxruntime backend. An InferenceSession is safe to share between threads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import optional
from ..errors import ModelLoadError, RunTimeoutError
from ..manifest import ArtifactEntry, Spec
from ..vet.onnx_proto import check_onnx

NAME = "onnxruntime"
# threads=N runs on onnxruntime's own intra-op pool: on an LSTM(64) batch of 1024 it beat splitting the
# batch over N sessions (benchmarks/RESULTS.md, "Batch 1024"); LiteRT is the other way round (parallel.py).
INTRA_OP_THREADS = True


def session(content: bytes, file: str, threads: int = 1):
    """A CPU InferenceSession on vetted bytes: `threads` intra-op threads (default one), ONNX format only, quiet."""
    check_onnx(content, file)  # external data, custom domains: refused before ORT parses
    # Telemetry must be off before the first import: a device app should not write to ~/.cache.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    ort = optional.require("onnxruntime", "the onnxruntime backend")
    options = ort.SessionOptions()
    options.add_session_config_entry("session.load_model_format", "ONNX")  # never the ORT format
    # Tiny recurrent graphs at batch 1: thread pools cost more than they give (threads > 1: big batches).
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own types and, on garbage, UnicodeDecodeError
        raise ModelLoadError(f"{file}: onnxruntime cannot load it ({type(exc).__name__}: {exc})") from None


class OrtBackend:
    """A window model: one float input, one output."""

    name = NAME

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec, threads: int = 1) -> None:
        self._session = session(content, entry.file, threads)
        self.threads = threads
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or not outputs or inputs[0].type != "tensor(float)":
            raise ModelLoadError(
                f"{entry.file}: expected 1 float input and 1 output, the model has "
                f"{[i.type for i in inputs]} in, {len(outputs)} out; re-export the bundle."
            )
        self.input_shape, self.output_shape = list(inputs[0].shape), list(outputs[0].shape)
        self._input = inputs[0].name
        self._outputs = [outputs[0].name]
        self._run = self._session.run
        # The C++ session's run, when this build exposes it: the Python wrapper re-validates input
        # names, OrtValue ownership and graph-capture options on every call, all fixed here at load.
        self._native_run = getattr(getattr(self._session, "_sess", None), "run", None)

    def run(self, x: np.ndarray) -> np.ndarray:
        if self._native_run is not None:
            return self._native_run(self._outputs, {self._input: x}, None)[0]
        return self._run(self._outputs, {self._input: x})[0]

    def run_within(self, x: np.ndarray, seconds: float) -> np.ndarray:
        """`run`, stopped after `seconds` by RunOptions.terminate (set from a timer thread).

        onnxruntime checks the flag between kernels, a Loop's iterations included, and ends that one
        call: the session stays usable for the next. A kernel already running finishes first.

        Raises:
            RunTimeoutError: the call was stopped.
        """
        import threading  # here, not at import: a device app that never sets a timeout does not pay for it

        ort = optional.require("onnxruntime", "the onnxruntime backend")
        options = ort.RunOptions()
        options.log_severity_level = 4  # the stop is reported as RunTimeoutError, not logged on stderr too
        timer = threading.Timer(max(seconds, 0.0), _terminate, (options,))
        timer.daemon = True
        timer.start()
        try:
            return self._run(self._outputs, {self._input: x}, options)[0]
        except Exception:
            if not options.terminate:
                raise
            raise RunTimeoutError(f"onnxruntime stopped the call after {seconds:g} s") from None
        finally:
            timer.cancel()


def _terminate(options) -> None:
    options.terminate = True


def open(content: bytes, entry: ArtifactEntry, spec: Spec, threads: int = 1) -> OrtBackend:  # noqa: A001
    return OrtBackend(content, entry, spec, threads)


class OrtStepBackend:
    """A step model: several named inputs and outputs (the sample and each state). Thread-safe."""

    name = NAME

    def __init__(self, content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        self._session = session(content, entry.file)
        ins = {i.name: i.shape for i in self._session.get_inputs()}
        outs = {o.name: o.shape for o in self._session.get_outputs()}
        missing = [n for n in inputs if n not in ins] + [n for n in outputs if n not in outs]
        if missing:
            raise ModelLoadError(
                f"{entry.file}: the step model lacks tensors {missing} named in the manifest (it has inputs "
                f"{sorted(ins)}, outputs {sorted(outs)}); re-export the bundle with --streaming."
            )
        self._in_names, self._out_names = list(inputs), list(outputs)
        # Last-axis widths in the order of `inputs` and `outputs` (None where the graph leaves it free).
        self.step_widths = ([_width(ins[n]) for n in inputs], [_width(outs[n]) for n in outputs])

    def run_step(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one step: float32 arrays in the order of `inputs`; returns arrays in the order of `outputs`."""
        return self._session.run(self._out_names, dict(zip(self._in_names, arrays)))


def _width(shape: Sequence[Any]) -> int | None:
    last = shape[-1] if shape else None
    return last if isinstance(last, int) and last >= 0 else None


def open_step(content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]) -> OrtStepBackend:
    """Open a step model whose graph inputs and outputs carry these names."""
    return OrtStepBackend(content, entry, inputs, outputs)
