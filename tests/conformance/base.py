"""The conformance suite's case record and builders: RNN model configurations taken from peers' own
test files, and the models people build (issue 13's zoo), each exported to every format and run on
every backend.

Each case cites the test it comes from. `refused` is the start of the reason edgernn gives when it
refuses the whole model, and `peer` names a peer that supports it (the bar a refusal must meet).
Kernels come from Keras's initializers under a fixed seed; constant-initialized weights are drawn at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

TF2ONNX = "onnx/tensorflow-onnx tests/keras2onnx_unit_tests/test_layers.py"
KERAS2C = "PlasmaControl/keras2c tests/test_recurrent_layers.py"
ONNX_BACKEND = "onnx/onnx onnx/backend/test/case/node"
KERAS = "keras-team/keras keras/src/layers/rnn"


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    build: Callable[[], Any]
    refused: str = ""  # the whole model is refused with a reason containing this
    peer: str = ""  # who supports a refused case
    streaming: bool = False  # also export and prove step models


def _seq(shape, *layers, batch_size=None):
    import keras

    return keras.Sequential([keras.Input(shape, batch_size=batch_size), *layers])


def _fn(make):
    """A functional model from make(keras, layers)."""

    def build():
        import keras

        return make(keras, keras.layers)

    return build


def _L():
    import keras

    return keras.layers


def build_seeded(case: Case, seed: int = 5):
    """The case's model with Keras's own initializers under a fixed seed (as the peers' tests build them),
    and every weight Keras starts at a constant (biases, norms' gamma/beta/moments) drawn at random, so
    no path hides behind zeros or ones. None when the case has no Keras model."""
    import keras

    keras.utils.set_random_seed(seed)
    model = case.build()
    if model is None:
        return None
    rng = np.random.default_rng(seed)
    weights = []
    for var in model.weights:
        value = np.asarray(var.numpy(), np.float32)
        if value.size and np.all(value == value.flat[0]):  # a constant initializer
            low, high = (0.5, 1.5) if "variance" in var.name or "gamma" in var.name else (-0.5, 0.5)
            value = rng.uniform(low, high, value.shape).astype(np.float32)
        weights.append(value)
    model.set_weights(weights)
    return model
