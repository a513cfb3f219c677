"""NumPy reference backend: the Keras recurrent equations, run from the bundle's `model.npz`.

No native runtime: numpy only. It is also a fourth, independent implementation of the Keras
equations that `validate` checks against the golden vectors next to LiteRT and onnxruntime.

The artifact (format "numpy", written by export/formats/numpy/convert.py) is an .npz read with
allow_pickle=False: a `spec` string (JSON: format version, timesteps, and the layer list, each layer
with its kind, activations and options, naming its arrays) and one float32 array per weight, as Keras stores
them: kernels (in, gates*units) with Keras gate orders (LSTM i,f,c,o; GRU z,r,h), recurrent
kernels (units, gates*units), biases (GRU with reset_after=True: (2, 3*units), input then
recurrent bias). Initial states are zeros, as in Keras without `initial_state`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError, ModelLoadError, UnsupportedModelError
from ..manifest import ArtifactEntry, Spec
from ..numpy_graph import Graph
from ..numpy_layers import Recurrent, Weights, input_width
from ..vet.npz import read_npz as read_members

NAME = "numpy"
SPEC_KEY = "spec"
SPEC_VERSION = 1  # a chain of the recurrent, Dense and Dropout kinds: what every edgernn reads
GRAPH_VERSION = 2  # any kind of numpy_graph.LAYERS, `inputs` wiring, the input shape stored
INPUTS_VERSION = 3  # several model inputs: the spec's `inputs` holds their shapes (input k is layer index -1 - k)
SPEC_VERSIONS = (SPEC_VERSION, GRAPH_VERSION, INPUTS_VERSION)
WEIGHT_NAME = re.compile(r"^\d+_[\w.-]+(/[\w.-]+)+$")  # '<layer index>_<layer name>/<weight>', as export writes


def read_npz(content: bytes, file: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse the artifact: (spec dict, arrays). ModelLoadError on anything but a well-formed file."""
    arrays = read_members(content, file, lambda key: key == SPEC_KEY or WEIGHT_NAME.match(key), ModelLoadError)
    raw = arrays.pop(SPEC_KEY, None)
    try:
        spec = json.loads(str(raw.item())) if raw is not None and raw.dtype.kind == "U" else None
    except (ValueError, json.JSONDecodeError):
        spec = None
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise ModelLoadError(f"{file}: expected a JSON '{SPEC_KEY}' string with a 'layers' list; re-export the bundle.")
    if spec.get("version") not in SPEC_VERSIONS:
        raise ModelLoadError(
            f"{file}: numpy spec version {spec.get('version')!r}; this edgernn reads versions {SPEC_VERSIONS}. "
            "Upgrade edgernn or re-export the bundle."
        )
    return spec, arrays


def build(content: bytes, file: str) -> tuple[dict[str, Any], Graph, int | None]:
    """(spec, layer graph, input features: None for token ids) of an artifact."""
    desc, arrays = read_npz(content, file)
    shape = desc.get("input_shape")
    tokens = desc.get("input_dtype") == "int32"  # (batch, T) ids for an Embedding: input_shape is [T]
    ok = isinstance(shape, list) and len(shape) == (1 if tokens else 2)
    if not (ok and all(d is None or type(d) is int and d > 0 for d in shape)):
        shape = [desc.get("timesteps"), input_width(desc["layers"], arrays)]  # version 1: the first kernel's rows
    steps = shape[0] if type(shape[0]) is int and shape[0] > 0 else None
    heads = desc.get("outputs")  # several outputs (absent: the last layer's)
    several = desc.get("inputs")  # several inputs' shapes (absent: one input)
    if several is not None:
        if not (isinstance(several, list) and len(several) > 1 and all(_shape(s) for s in several)):
            raise ModelLoadError(f"{file}: inputs {several!r}; expected the shapes of 2 or more inputs.")
        graph = Graph(desc["layers"], Weights(arrays, file), (), file, heads, inputs=several)
        return desc, graph, sum(p.width for p in graph.ports)
    if tokens:
        return desc, Graph(desc["layers"], Weights(arrays, file), (steps,), file, heads), None
    if not isinstance(shape[1], int):
        raise ModelLoadError(f"{file}: the numpy spec's input has no feature count; re-export the bundle.")
    return desc, Graph(desc["layers"], Weights(arrays, file), (steps, shape[1]), file, heads), shape[1]


def _shape(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(type(d) is int and d > 0 for d in value)


class NumpyBackend:
    name = NAME  # keeps no state between calls, so it is thread-safe

    def __init__(self, content: bytes, entry: ArtifactEntry, spec: Spec) -> None:
        desc, self.graph, features = build(content, entry.file)
        # The file's own shapes, checked against the manifest by open_window (as for .tflite and .onnx).
        steps = desc.get("timesteps", -1)
        steps = steps if isinstance(steps, int) and not isinstance(steps, bool) else -1  # null: free T
        self.input_shape = [-1, steps] if features is None else [-1, steps, features]
        if self.graph.ports:  # several inputs: the packed (batch, width) array (runtime/inputs.py)
            self.input_shape = [-1, features]
        self.output_shape = [-1, *(-1 if d is None else d for d in self.graph.out_shape)]
        self._tail = spec.input_tail

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1:] != self._tail and (self._tail[0] is not None or x.shape[2:] != self._tail[1:]):
            # the equations would run any length; the bundle promises one (or any, when T is free)
            raise InputError(f"expected model-unit windows (batch, {', '.join(map(str, self._tail))}), got {x.shape}.")
        return np.asarray(self.graph(x), dtype=np.float32)


def open(content: bytes, entry: ArtifactEntry, spec: Spec) -> NumpyBackend:  # noqa: A001 - registry API
    return NumpyBackend(content, entry, spec)


class NumpyStepBackend:
    """The same layers run one time step at a time, the states passed in and out (streaming).

    `inputs` are the names of x_t and then every state, `outputs` of y_t and every next state, in
    layer order with h before c for LSTM (the manifest's `streaming` block): they are matched by
    position, and their count must be what the layers carry.
    """

    name = NAME

    def __init__(self, content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        file = entry.file
        _, graph, features = build(content, file)
        self.layers = graph.layers
        fixed = [i for i, layer in enumerate(self.layers) if not layer.can_step]
        if (
            graph.ports and not fixed and _started_chain(graph)
        ):  # several inputs: x, and recurrent layers' initial states
            features = graph.ports[-1 - graph.inputs[0][0]].shape[-1]
        elif fixed or not graph.chain:
            raise UnsupportedModelError(
                f"{file}: layers {fixed or 'merging several inputs'} need the whole window (Bidirectional, "
                "go_backwards, convolution or pooling over time, reshapes, merges), so this model cannot run "
                "one sample at a time. Use predict on whole windows."
            )
        widths = [w for layer in self.layers for w in layer.state_widths]
        if len(inputs) != 1 + len(widths) or len(outputs) != len(inputs):
            raise ModelLoadError(
                f"{file}: the layers carry {len(widths)} states, so a step takes {1 + len(widths)} inputs and gives "
                f"as many outputs; the manifest names inputs {list(inputs)} and outputs {list(outputs)}. Re-export."
            )
        self.state_widths = widths
        out = graph.out_shape[-1]
        # Widths of (x_t, *states) in and (y_t, *next states) out: StepModel.load checks them against the manifest.
        self.step_widths = ([features, *widths], [out, *widths])

    def run_step(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """(x_t, *states) -> [y_t, *next states], float32 (batch, width) each."""
        x, states, at, new = arrays[0], list(arrays[1:]), 0, []
        for layer in self.layers:
            n = len(layer.state_widths)
            x, nxt = layer.step(x, states[at : at + n])
            at += n
            new += nxt
        # A copy: a model ending in a recurrent layer returns its new h as y_t too, and the caller
        # owns y_t (may write to it) while the stream keeps the state.
        return [np.array(x, dtype=np.float32), *new]


def _started_chain(graph: Graph) -> bool:
    """A chain from one model input, whose other inputs are only recurrent layers' initial states
    (a step takes those as its states, so the stream starts from them)."""
    first = graph.inputs[0][0]
    chain = first < 0 and all(ins[0] == i - 1 for i, ins in enumerate(graph.inputs) if i)
    extra = [(layer, ins[1:]) for layer, ins in zip(graph.layers, graph.inputs) if len(ins) > 1]
    return chain and all(isinstance(layer, Recurrent) and all(j < 0 for j in js) for layer, js in extra)


def open_step(content: bytes, entry: ArtifactEntry, inputs: Sequence[str], outputs: Sequence[str]) -> NumpyStepBackend:
    """Open the numpy artifact as a step model (the streaming protocol of runtime/stream.py)."""
    return NumpyStepBackend(content, entry, inputs, outputs)
