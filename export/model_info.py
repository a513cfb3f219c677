"""What the exporters accept, and the model's description.

Prove, don't whitelist: any built-in Keras layer is accepted here, and each format's proof decides
(every artifact is run in the shipped runtimes and held to 1e-5 against Keras). The formats with
their own kernels (numpy, C, step models) refuse what they lack, per format, with the reason in the
manifest. Refused for every format: code no converter can prove (Lambda, custom layers and
activations), and what edgernn's window API cannot carry yet (export/feeds.py, export/heads.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from edgernn.runtime.errors import ExportError
from edgernn.runtime.outputs import Head, packed_width

from .feeds import input_ports
from .heads import UnsupportedLayerError, output_heads, output_timesteps

RNN_CLASSES = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
REFUSED_CLASSES = {
    "Lambda": "runs arbitrary Python code, which no converter can prove and a bundle must not carry",
    "TFSMLayer": "wraps a TensorFlow SavedModel whose graph edgernn cannot inspect",
}
KEEP = object()  # _patch_config: leave the Input's time axis as it is
DESCRIBED = ("units", "return_sequences", "activation", "recurrent_activation", "reset_after", "go_backwards", "rate")
DESCRIBED_MORE = (
    "input_dim",
    "output_dim",
    "mask_zero",
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "dilation_rate",
    "pool_size",
    "axis",
    "n",
    "target_shape",
)


FREE_EXAMPLE_STEPS = 8  # a free-T model's golden windows; the proof also runs T = 1, 7 and 300
FREE_PROOF_STEPS = (1, 7, 300)


@dataclass(frozen=True)
class ModelInfo:
    """The facts about a Keras model that the exporters and the manifest need."""

    timesteps: int | None  # None: Input((None, F)), any T >= 1
    features: int | None  # None: int token ids (batch, T) into an Embedding (`vocabulary` set)
    outputs: int
    sequence_output: bool
    cells: tuple[str, ...]  # one per recurrent layer, first to last
    bidirectional: bool
    layers: tuple[dict[str, Any], ...]
    trainable_params: int
    stateful: bool = False  # the source had stateful=True layers; export works on a stateless clone
    mask_value: float | None = None  # a Masking layer's: the proof then feeds padded windows (export/padding.py)
    vocabulary: int | None = None  # token inputs: the first Embedding's input_dim (ids in [0, vocabulary))
    heads: tuple[Head, ...] = ()  # several outputs (export/heads.py); `outputs` is then their packed width
    inputs: tuple[Head, ...] = ()  # several inputs (export/feeds.py); `features` is then their packed width
    output_timesteps: int | None = None  # a sequence output shorter than the input (a strided Conv1D)

    @property
    def window_steps(self) -> int:
        """A concrete T: the fixed one, or the golden windows' length for a free-T model."""
        return self.timesteps or FREE_EXAMPLE_STEPS

    @property
    def cell(self) -> str:
        kinds = sorted(set(self.cells))
        return kinds[0] if len(kinds) == 1 else "+".join(kinds)


def _halves(layer) -> tuple[Any, ...]:
    return (layer.forward_layer, layer.backward_layer) if type(layer).__name__ == "Bidirectional" else (layer,)


def _custom_problem(layer, where: str) -> str | None:
    """Why `layer` (or a layer it wraps) is code edgernn must not convert: Lambda, a custom class or activation."""
    for part in (layer, getattr(layer, "layer", None), *_halves(layer)[1:]):
        if part is None:
            continue
        cls, module = type(part).__name__, type(part).__module__
        if cls in REFUSED_CLASSES:
            return f"{where}: {cls} {REFUSED_CLASSES[cls]}. Replace it with built-in Keras layers."
        if not module.startswith("keras."):
            return (
                f"{where}: {module}.{cls} is a custom layer; edgernn exports built-in Keras layers only "
                "(custom code cannot be loaded with safe_mode=True or proven). Rebuild it from built-in layers."
            )
        cfg = part.get_config()
        for key in ("activation", "recurrent_activation"):
            value = cfg.get(key, "linear")
            if not isinstance(value, str) or ">" in value:
                return f"{where}: {key} {value!r} is a custom activation; use a built-in activation name."
    return None


def describe_layer(layer) -> dict[str, Any]:
    cls = type(layer).__name__
    entry: dict[str, Any] = {"class": cls, "name": layer.name}
    cfg = layer.get_config()
    inner = layer.forward_layer if cls == "Bidirectional" else getattr(layer, "layer", layer)
    if inner is not layer:
        entry["merge_mode" if cls == "Bidirectional" else "wrapper"] = cfg.get("merge_mode", cls)
        entry["layer"] = type(inner).__name__
    icfg = inner.get_config()
    entry.update({key: icfg[key] for key in DESCRIBED if key in icfg})
    entry.update({key: list(v) if isinstance(v, tuple) else v for key in DESCRIBED_MORE if (v := icfg.get(key))})
    return entry


def _recurrent(layer, where: str) -> str:
    """The layer's cell name; UnsupportedLayerError for a Bidirectional with two cell types."""
    halves = _halves(layer)
    if any(type(half) is not type(halves[0]) for half in halves):
        raise UnsupportedLayerError(
            f"{where} has a {type(halves[-1]).__name__} backward layer and a {type(halves[0]).__name__} forward "
            "layer; edgernn exports a Bidirectional whose two halves are the same cell type."
        )
    return RNN_CLASSES[type(halves[0]).__name__]


def inspect_model(model) -> ModelInfo:
    """Check that `model` is exportable and describe it.

    Raises:
        UnsupportedLayerError: Lambda or custom code, several inputs of a kind not carried (export/feeds.py),
            no recurrent layer, an output shape the manifest cannot hold.
        ExportError: a free time dimension.
    """
    ports = input_ports(model)  # () for one input; checks several inputs' shapes and dtypes
    cells, bidirectional, layers, stateful, mask_value = [], False, [], False, None
    for layer in model.layers:
        cls, where = type(layer).__name__, f"layer {layer.name!r} ({type(layer).__name__})"
        problem = _custom_problem(layer, where)
        if problem:
            raise UnsupportedLayerError(problem)
        if type(_halves(layer)[0]).__name__ in RNN_CLASSES:
            cells.append(_recurrent(layer, where))
            bidirectional |= cls == "Bidirectional"
            stateful |= any(bool(half.get_config().get("stateful")) for half in _halves(layer))
        layers.append(describe_layer(layer))
        if cls == "Masking" and mask_value is None:
            mask_value = float(layer.get_config()["mask_value"])
    if not cells:
        raise UnsupportedLayerError(
            f"model {model.name!r} has no SimpleRNN, LSTM or GRU layer; edgernn exports recurrent sequence models."
        )
    in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if ports:  # the sequence input's T, and the packed width of them all (runtime/inputs.py)
        in_shape = (None, next(p.shape[0] for p in ports if len(p.shape) == 2), packed_width(ports))
    vocabulary = None if ports else token_vocabulary(model)
    if vocabulary:
        mask_value = 0.0 if any(entry.get("mask_zero") for entry in layers) else None  # id 0 pads
    elif len(in_shape) != 3:
        raise UnsupportedLayerError(f"model input has shape {in_shape}; expected (batch, timesteps, features).")
    if not vocabulary and in_shape[2] is None:
        raise ExportError(
            f"model input shape {in_shape} has a free feature dimension; edgernn needs a static feature count. "
            "Rebuild the model with keras.Input((timesteps or None, features))."
        )
    heads = output_heads(model, in_shape)  # checks every output's shape; () for one output
    if heads and in_shape[1] is None:
        raise UnsupportedLayerError(
            f"model {model.name!r} has {len(heads)} outputs and a free sequence length; several outputs are exported "
            "at a fixed T so far. Export with --timesteps T (ExportOptions(timesteps=T))."
        )
    width = packed_width(heads) if heads else int(out_shape[-1])
    return ModelInfo(
        timesteps=None if in_shape[1] is None else int(in_shape[1]),
        features=None if vocabulary else int(in_shape[2]),
        outputs=width,
        sequence_output=len(out_shape) == 3 and not heads,
        cells=tuple(cells),
        bidirectional=bidirectional,
        layers=tuple(layers),
        trainable_params=int(sum(int(w.numpy().size) for w in model.trainable_weights)),
        stateful=stateful,
        mask_value=mask_value,
        vocabulary=vocabulary,
        heads=heads,
        inputs=ports,
        output_timesteps=output_timesteps(model, in_shape[1]),
    )


def token_vocabulary(model) -> int | None:
    """The first Embedding's input_dim when the model takes token ids (batch, T) into it; None for float
    windows. UnsupportedLayerError for integer inputs that do not go straight into an Embedding.

    Any input dtype counts (Keras's Embedding casts floats to ids): export works on an int32 clone."""
    tensor = model.inputs[0]
    first = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"][:1]
    if len(tensor.shape) == 2 and first and type(first[0]).__name__ == "Embedding":
        return int(first[0].get_config()["input_dim"])
    if "int" in str(tensor.dtype):
        raise UnsupportedLayerError(
            f"model input is {tensor.dtype} {tuple(tensor.shape)}; edgernn takes integer inputs only as token ids "
            "(batch, timesteps) straight into an Embedding layer. Feed float32 (batch, timesteps, features) otherwise."
        )
    return None


def _patch_config(
    node: Any, rnn: dict[str, Any], batch: int | None, time: Any, tokens: bool = False, several: bool = False
) -> None:
    """Patch a model config in place; `time` reaches every Input with a time axis (several inputs: rank 3 only)."""
    if isinstance(node, dict):
        cls, cfg = node.get("class_name"), node.get("config")
        if cls in RNN_CLASSES and isinstance(cfg, dict):
            cfg.update(rnn)
        if cls == "InputLayer" and isinstance(cfg, dict):
            shape = list(cfg["batch_shape"])
            shape[0] = batch  # None frees it: Input(batch_size=2) must not leak into a free-batch form
            if time is not KEEP and (len(shape) == 3 or tokens or not several):
                shape[1] = time
            cfg["batch_shape"] = shape
            if tokens:  # token ids: every artifact takes int32, whatever dtype the source's Input had
                cfg["dtype"] = "int32"
        for value in node.values():
            _patch_config(value, rnn, batch, time, tokens, several)
    elif isinstance(node, list):
        for value in node:
            _patch_config(value, rnn, batch, time, tokens, several)


def clone_with(
    model,
    *,
    unroll: bool | None = None,
    batch: int | None = None,
    return_sequences: bool | None = None,
    free_time: bool = False,
    timesteps: int | None = None,
    tokens: bool = False,
):
    """A clone of `model` with the same weights: stateless, its recurrent layers unrolled and/or returning
    every step, its batch fixed at `batch` (None: free), and/or its time axis left free or fixed at `timesteps`;
    `tokens`: an int32 Input (a token model's ids, whatever its source's Input dtype).

    Built from the config (not by wrapping the model in a tf.function), so the converters see
    ordinary Keras variables and freeze them. A stateful layer's clone is stateless: its window
    starts from zero state, as the step models do (the stream carries the state).
    """
    rnn = {k: v for k, v in (("unroll", unroll), ("return_sequences", return_sequences)) if v is not None}
    rnn["stateful"] = False
    config = copy.deepcopy(model.get_config())
    time = None if free_time else timesteps or KEEP
    _patch_config(config, rnn, batch, time, tokens, several=len(model.inputs) > 1)  # a state Input keeps its shape
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone
