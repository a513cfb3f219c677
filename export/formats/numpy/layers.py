"""Keras layers -> numpy spec records beyond the recurrent layers and Dense (runtime/numpy_conv.py,
numpy_norm.py, numpy_shape.py run them). A layer outside this table, or an option its kernel
lacks, raises UnsupportedLayerError: the numpy and C formats are refused for the model then, with
the reason, and TFLite and ONNX are unaffected."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edgernn.runtime.numpy_layers import ACTIVATIONS

from ...model_info import UnsupportedLayerError

IDENTITY = {
    "Dropout": "dropout",
    "GaussianNoise": "gaussian_noise",
    "GaussianDropout": "gaussian_dropout",
    "AlphaDropout": "alpha_dropout",
    "SpatialDropout1D": "spatial_dropout1d",
    "ActivityRegularization": "identity",
}
MERGES = {c: c.lower() for c in ("Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")}


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value


def _store(layer, prefix: str, arrays: dict[str, np.ndarray], rec: dict[str, Any]) -> dict[str, Any]:
    """Every weight of `layer` into `arrays` under '<prefix>/<weight name>', named in `rec`."""
    for w in layer.weights:
        rec[w.name] = f"{prefix}/{w.name}"
        arrays[rec[w.name]] = np.asarray(w.numpy(), dtype=np.float32)
    return rec


def _channels_last(cfg: dict[str, Any], where: str) -> None:
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedLayerError(
            f"{where}: data_format {cfg['data_format']!r}; the numpy kernels are channels_last."
        )


def check_activation(name: Any, where: str) -> str:
    if name not in ACTIVATIONS:
        raise UnsupportedLayerError(
            f"{where}: activation {name!r} has no numpy implementation (known: {sorted(ACTIVATIONS)}). "
            "Use one of those, or export without the 'numpy' format (--formats tflite,onnx)."
        )
    return name


def dense_record(layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    cfg = layer.get_config()
    rec = {
        "kind": "dense",
        "units": int(cfg["units"]),
        "activation": check_activation(cfg.get("activation", "linear"), f"layer {layer.name!r}"),
    }
    weights = layer.get_weights()
    names = ["kernel"] + (["bias"] if cfg.get("use_bias", True) else [])
    for key, value in zip(names, weights):
        rec[key] = f"{prefix}/{key}"
        arrays[rec[key]] = np.asarray(value, dtype=np.float32)
    return rec


def _conv1d(layer, cfg, where, prefix, arrays):
    _channels_last(cfg, where)
    if cfg.get("groups", 1) != 1:
        raise UnsupportedLayerError(f"{where}: Conv1D groups={cfg['groups']}; the numpy kernel has groups=1.")
    rec = {"kind": "conv1d", "filters": int(cfg["filters"]), "padding": cfg["padding"]}
    rec.update({k: int(_one(cfg[k])) for k in ("kernel_size", "strides", "dilation_rate")})
    rec["activation"] = check_activation(cfg.get("activation", "linear"), where)
    return _store(layer, prefix, arrays, rec)


def _pool(kind: str) -> Callable:
    def write(layer, cfg, where, prefix, arrays):
        _channels_last(cfg, where)
        if kind.startswith("global"):
            return {"kind": kind, "keepdims": bool(cfg.get("keepdims", False))}
        strides = cfg.get("strides") or cfg["pool_size"]
        return {
            "kind": kind,
            "pool_size": int(_one(cfg["pool_size"])),
            "strides": int(_one(strides)),
            "padding": cfg["padding"],
        }

    return write


def _norm(kind: str) -> Callable:
    def write(layer, cfg, where, prefix, arrays):
        return _store(
            layer, prefix, arrays, {"kind": kind, "axis": cfg.get("axis", -1), "epsilon": float(cfg["epsilon"])}
        )

    return write


def _activation_layer(layer, cfg, where, prefix, arrays):
    cls = type(layer).__name__
    if cls == "Activation":
        return {"kind": "activation", "activation": check_activation(cfg.get("activation"), where)}
    if cls == "Softmax":
        return {"kind": "softmax", "axis": cfg.get("axis", -1)}
    if cls == "ELU":
        return {"kind": "elu", "alpha": float(cfg.get("alpha", 1.0))}
    keys = ("negative_slope", "max_value", "threshold")
    return {"kind": "relu" if cls == "ReLU" else "leaky_relu", **{k: cfg[k] for k in keys if cfg.get(k) is not None}}


def _time_distributed(layer, cfg, where, prefix, arrays):
    inner = layer.layer
    if type(inner).__name__ != "Dense":
        raise UnsupportedLayerError(f"{where}: TimeDistributed({type(inner).__name__}); the numpy kernel wraps Dense.")
    return dense_record(inner, prefix, arrays)  # Dense on a sequence maps each step: TimeDistributed(Dense) is Dense


def _embedding(layer, cfg: dict[str, Any], where: str, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if len(layer.weights) != 1:  # a quantized or LoRA Embedding carries more arrays than the table
        raise UnsupportedLayerError(f"{where}: expected one embeddings table, found {len(layer.weights)} arrays.")
    rec = {"kind": "embedding", "input_dim": int(cfg["input_dim"]), "output_dim": int(cfg["output_dim"])}
    rec.update(mask_zero=bool(cfg.get("mask_zero", False)), embeddings=f"{prefix}/embeddings")
    arrays[rec["embeddings"]] = np.asarray(layer.weights[0].numpy(), dtype=np.float32)
    return rec


RECORDS: dict[str, Callable] = {
    "Conv1D": _conv1d,
    "MaxPooling1D": _pool("max_pool1d"),
    "AveragePooling1D": _pool("avg_pool1d"),
    "GlobalMaxPooling1D": _pool("global_max_pool1d"),
    "GlobalAveragePooling1D": _pool("global_avg_pool1d"),
    "BatchNormalization": _norm("batch_norm"),
    "LayerNormalization": _norm("layer_norm"),
    "PReLU": lambda layer, cfg, where, prefix, arrays: _store(layer, prefix, arrays, {"kind": "prelu"}),
    "Flatten": lambda layer, cfg, where, prefix, arrays: _channels_last(cfg, where) or {"kind": "flatten"},
    "Reshape": lambda layer, cfg, where, prefix, arrays: {"kind": "reshape", "target_shape": list(cfg["target_shape"])},
    "Masking": lambda layer, cfg, where, prefix, arrays: {"kind": "masking", "mask_value": float(cfg["mask_value"])},
    "Embedding": _embedding,
    "RepeatVector": lambda layer, cfg, where, prefix, arrays: {"kind": "repeat_vector", "n": int(cfg["n"])},
    "TimeDistributed": _time_distributed,
    **{cls: _activation_layer for cls in ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax")},
    **{cls: (lambda kind: lambda layer, cfg, where, prefix, arrays: {"kind": kind})(k) for cls, k in IDENTITY.items()},
    **{
        cls: (lambda kind: lambda layer, cfg, where, prefix, arrays: {"kind": kind, "axis": cfg.get("axis", -1)})(k)
        for cls, k in MERGES.items()
    },
}


def layer_record(layer, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The spec record of a non-recurrent layer; UnsupportedLayerError naming what the numpy kernels lack."""
    cls, where = type(layer).__name__, f"layer {layer.name!r} ({type(layer).__name__})"
    if cls not in RECORDS:
        raise UnsupportedLayerError(f"{where} has no numpy kernel (the numpy backend runs {sorted(RECORDS)} too).")
    return RECORDS[cls](layer, layer.get_config(), where, prefix, arrays)
