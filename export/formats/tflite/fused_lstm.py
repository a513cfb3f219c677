"""LSTM-only models as TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM op, batch fixed at 1.

Keras 3's LSTM does not mark its loop for the TFLite converter, which then sees an unrolled graph
or a WHILE loop. tf.keras (Keras 2) ran its LSTM as a tf.function tagged
`api_implements="lstm_<uuid>"`, which the converter, reading a SavedModel, replaces with its fused
LSTM op. This module rebuilds that with no extra dependency: each LSTM layer becomes such a tagged
function over the Keras 3 weights (as constants), Dense layers become matmuls, and the SavedModel
goes through the converter. The function body is a plain TF LSTM (checked against Keras here);
the converter replaces it. The fusion needs a static batch, so the form is batch 1.
Why bother: one fused op holds the weights once and carries one set of quantization parameters, so
full int8 is 22 KB for the LSTM(64) on (24, 3) against 130 KB unrolled (README "Quantized variants").
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator

import numpy as np

from edgernn.runtime.errors import ExportError

FUSED_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def ineligible(model) -> str | None:
    """Why `model` cannot take the fused form, or None when it can (a chain of LSTM/Dense/Dropout)."""
    for layer in model.layers:
        cls, cfg = type(layer).__name__, layer.get_config()
        if cls in ("InputLayer", "Dropout", "Dense"):
            continue
        if cls != "LSTM":
            return f"layer {layer.name!r} is {cls}; the fused op covers LSTM, Dense and Dropout only"
        if (cfg.get("activation"), cfg.get("recurrent_activation")) != ("tanh", "sigmoid") or not cfg.get(
            "use_bias", True
        ):
            return f"LSTM {layer.name!r} has non-default activations or no bias, which the fused op does not express"
        if cfg.get("go_backwards") or cfg.get("stateful"):
            return f"LSTM {layer.name!r} runs backwards or is stateful"
    return None


def _lstm_function(return_sequences: bool):
    import tensorflow as tf

    def lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        h, c, steps = init_h, init_c, []
        for t in range(inputs.shape[1]):
            z = tf.matmul(inputs[:, t], kernel) + tf.matmul(h, recurrent_kernel) + bias
            zi, zf, zc, zo = tf.split(z, 4, axis=1)
            c = tf.sigmoid(zf) * c + tf.sigmoid(zi) * tf.tanh(zc)
            h = tf.sigmoid(zo) * tf.tanh(c)
            steps.append(h)
        outputs = tf.stack(steps, axis=1) if return_sequences else tf.expand_dims(h, 1)
        return h, outputs, h, c, tf.constant(0.0, name="runtime")

    # The attributes tf.keras gave its LSTM function; the converter keys on api_implements.
    attrs = {"api_implements": f"lstm_{uuid.uuid4()}", "time_major": False, "go_backwards": False}
    return tf.function(lstm, autograph=False, experimental_attributes=attrs)


def _serving_function(model):
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:])
    stages = []
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "LSTM":
            weights = [tf.constant(w) for w in layer.get_weights()]
            seq = bool(layer.get_config()["return_sequences"])
            stages.append(("lstm", _lstm_function(seq), weights, (layer.units, seq)))
        elif cls == "Dense":
            stages.append(("dense", layer.activation, [tf.constant(w) for w in layer.get_weights()], None))

    @tf.function(input_signature=[tf.TensorSpec((1, *shape), tf.float32, name="input")])
    def serve(x):
        for kind, fn, weights, extra in stages:
            if kind == "lstm":
                units, return_sequences = extra
                zeros = tf.zeros((1, units))
                last, seq, _, _, _ = fn(x, zeros, zeros, *weights)
                x = seq if return_sequences else last
            else:
                y = tf.tensordot(x, weights[0], 1)
                x = fn(y + weights[1] if len(weights) == 2 else y)
        return x

    return serve


@contextlib.contextmanager
def saved_model(model) -> Iterator[str]:
    """A temporary SavedModel of `model` in the fused-LSTM form; checked against Keras first.

    Raises:
        ExportError: the model is not eligible, or the rebuilt function disagrees with Keras.
    """
    import tensorflow as tf

    problem = ineligible(model)
    if problem:
        raise ExportError(f"fused LSTM form not available: {problem}.")
    serve = _serving_function(model)
    x = np.random.default_rng(0).uniform(-1, 1, (1, *model.inputs[0].shape[1:])).astype(np.float32)
    diff = float(np.abs(np.asarray(serve(x)) - np.asarray(model(x, training=False))).max())
    if not diff <= 1e-5:
        raise ExportError(f"the fused-LSTM rebuild of the model disagrees with Keras (max abs error {diff:.3g}).")
    module = tf.Module()
    module.serve = serve
    with tempfile.TemporaryDirectory(prefix="edgernn-fused-") as path:
        tf.saved_model.save(module, path, signatures=serve.get_concrete_function())
        yield path
