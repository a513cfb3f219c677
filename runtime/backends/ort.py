"""onnxruntime backend. An InferenceSession is safe to share between threads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import optional
from ..errors import InputError, ModelLoadError, ModelRunError, RunTimeoutError
from ..inputs import file_inputs, split
from ..manifest import ArtifactEntry, Spec
from ..outputs import file_output, pack
from ..vet.onnx_proto import check_onnx

NAME = "onnxruntime"
# threads=N runs on onnxruntime's own intra-op pool: on an LSTM(64) batch of 1024 it beat splitting the
# batch over N sessions (benchmarks/RESULTS.md, "Batch 1024"); LiteRT is the other way round (parallel.py).
INTRA_OP_THREADS = True
# Every session of the process allocates from one CPU arena capped at this many bytes (EDGERNN_ORT_MAX_BYTES
# overrides it), so a graph that asks at run time for more (a ConstantOfShape or Expand whose shape comes
# from the input: no reader can bound it) fails that call with a ModelRunError instead of taking the device's
# memory. The seed models' largest batch (4096 windows) needs a few MB.
MAX_BYTES = 1 << 30
_ARENA: list[int] = []  # the cap once registered: one arena per process


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
    if _arena(ort):
        options.add_session_config_entry("session.use_env_allocators", "1")  # the capped arena, not its own
    try:
        return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own types and, on garbage, UnicodeDecodeError
        raise ModelLoadError(f"{file}: onnxruntime cannot load it ({type(exc).__name__}: {exc})") from None


def memory_cap() -> int:
    """The arena cap in bytes: EDGERNN_ORT_MAX_BYTES, else MAX_BYTES (InputError on a bad value)."""
    text = os.environ.get("EDGERNN_ORT_MAX_BYTES", "")
    if not text:
        return MAX_BYTES
    if not text.isdigit() or int(text) < 1 << 20:
        raise InputError(f"EDGERNN_ORT_MAX_BYTES must be a whole number of bytes of at least 1048576, got {text!r}.")
    return int(text)


def _arena(ort) -> bool:
    """Register the process's capped CPU arena once; False if this onnxruntime cannot (then: no cap)."""
    if _ARENA:
        return True
    cap = memory_cap()
    if not hasattr(ort, "create_and_register_allocator"):
        return False
    info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    try:  # extend by what is asked (1), not the next power of two: the cap is then the real limit
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(cap, 1, -1, -1))
    except Exception:  # another thread (or the application) registered one first: sessions share that one
        pass
    _ARENA.append(cap)
    return True


def _out_of_arena(exc: Exception, file: str) -> Exception:
    """A failed run as the typed error: the arena cap named when that is what stopped it."""
    if "Available memory of" not in str(exc):
        return exc
    return ModelRunError(
        f"{file}: the model asked onnxruntime for more memory than its cap of {_ARENA[0] if _ARENA else MAX_BYTES} "
        "bytes (a shape computed from the input?); the call was refused. Give smaller batches, or set "
        "EDGERNN_ORT_MAX_BYTES if the model really needs more."
    )


class OrtBackend:
    """A window model: one float input, one output."""

    name = NAME

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec, threads: int = 1) -> None:
        self._session = session(content, entry.file, threads)
        self.threads = threads
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        kind = "tensor(int32)" if spec.tokens else "tensor(float)"  # token ids, or float windows
        if len(inputs) != (len(spec.inputs) or 1) or not outputs or any(i.type != kind for i in inputs):
            raise ModelLoadError(
                f"{entry.file}: expected {len(spec.inputs) or 1} {kind} input(s) and {len(spec.heads) or 1} "
                f"output(s), the model has {[i.type for i in inputs]} in, {len(outputs)} out; re-export the bundle."
            )
        self.input_shape, self.output_shape = list(inputs[0].shape), list(outputs[0].shape)
        self._input = inputs[0].name
        self._outputs = [outputs[0].name]
        self._file = entry.file
        self._feed = None  # several inputs: the packed array -> {graph input: array} (runtime/inputs.py)
        if spec.inputs:
            names, ports = file_inputs([i.name for i in inputs], spec.inputs, entry.file), spec.inputs
            self._feed = lambda x: dict(zip(names, split(x, ports)))
            self.input_shape = [-1, spec.features]
            self.run = lambda x: self._every(x)[0]
            self.run_within = lambda x, seconds: self._every(x, seconds)[0]
        if spec.heads:  # several outputs: every one, packed (runtime/outputs.py); chosen here, not per call
            self._outputs = _head_names(outputs, len(spec.heads), entry.file)
            self.output_shape = [-1, spec.outputs]
            self.run = lambda x: pack(self._every(x))  # several inputs too: _every feeds them
            self.run_within = lambda x, seconds: pack(self._every(x, seconds))
        self._run = self._session.run
        # The C++ session's run, when this build exposes it: the Python wrapper re-validates input
        # names, OrtValue ownership and graph-capture options on every call, all fixed here at load.
        self._native_run = getattr(getattr(self._session, "_sess", None), "run", None)

    def run(self, x: np.ndarray) -> np.ndarray:
        try:  # free when nothing is raised
            if self._native_run is not None:
                return self._native_run(self._outputs, {self._input: x}, None)[0]
            return self._run(self._outputs, {self._input: x})[0]
        except Exception as exc:
            raise _out_of_arena(exc, self._file) from None

    def run_within(self, x: np.ndarray, seconds: float) -> np.ndarray:
        return self._every(x, seconds)[0]

    def _every(self, x: np.ndarray, seconds: float | None = None) -> list[np.ndarray]:
        """Every output named in `_outputs`, stopped after `seconds` (None: no deadline) by
        RunOptions.terminate (set from a timer thread).

        onnxruntime checks the flag between kernels, a Loop's iterations included, and ends that one
        call: the session stays usable for the next. A kernel already running finishes first.

        Raises:
            RunTimeoutError: the call was stopped.
        """
        feed = {self._input: x} if self._feed is None else self._feed(x)
        if seconds is None:
            try:
                return self._run(self._outputs, feed)
            except Exception as exc:
                raise _out_of_arena(exc, self._file) from None
        import threading  # here, not at import: a device app that never sets a timeout does not pay for it

        ort = optional.require("onnxruntime", "the onnxruntime backend")
        options = ort.RunOptions()
        options.log_severity_level = 4  # the stop is reported as RunTimeoutError, not logged on stderr too
        timer = threading.Timer(max(seconds, 0.0), _terminate, (options,))
        timer.daemon = True
        timer.start()
        try:
            return self._run(self._outputs, feed, options)
        except Exception as exc:
            if not options.terminate:
                raise _out_of_arena(exc, self._file) from None
            raise RunTimeoutError(f"onnxruntime stopped the call after {seconds:g} s") from None
        finally:
            timer.cancel()


def _head_names(outputs, count: int, file: str) -> list[str]:
    """The graph outputs output_0 .. output_{count-1} (the manifest's head order)."""
    names, have = [file_output(i) for i in range(count)], sorted(o.name for o in outputs)
    if sorted(names) != have:
        raise ModelLoadError(
            f"{file}: expected outputs {names} (one per output in the manifest), the model has {have}; re-export."
        )
    return names


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
        self._file = entry.file
        # Last-axis widths in the order of `inputs` and `outputs` (None where the graph leaves it free).
        self.step_widths = ([_width(ins[n]) for n in inputs], [_width(outs[n]) for n in outputs])

    def run_step(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one step: float32 arrays in the order of `inputs`; returns arrays in the order of `outputs`."""
        try:
            return self._session.run(self._out_names, dict(zip(self._in_names, arrays)))
        except Exception as exc:
            raise _out_of_arena(exc, self._file) from None


def _width(shape: Sequence[Any]) -> int | None:
    last = shape[-1] if shape else None
    return last if isinstance(last, int) and last >= 0 else None


def open_step(content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]) -> OrtStepBackend:
    """Open a step model whose graph inputs and outputs carry these names."""
    return OrtStepBackend(content, entry, inputs, outputs)
