"""The numpy kernels of the layers small sequence models use, each against Keras within 1e-5, through a
real export (numpy format only) and the numpy backend; options as the kernels implement them."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import load


def _layers(name):
    from keras import layers as L

    return {
        "conv-valid-strides": [L.Conv1D(3, 3, strides=2), L.LSTM(3)],
        "conv-same-dilated": [L.Conv1D(3, 3, padding="same", dilation_rate=2, activation="tanh"), L.GRU(3)],
        "conv-causal-no-bias": [L.Conv1D(4, 2, padding="causal", use_bias=False), L.SimpleRNN(3)],
        "pool-max-same": [L.MaxPooling1D(3, strides=2, padding="same"), L.LSTM(3)],
        "pool-avg-valid": [L.AveragePooling1D(2), L.GRU(3, return_sequences=True), L.GlobalMaxPooling1D()],
        "global-avg-keepdims": [L.GRU(3, return_sequences=True), L.GlobalAveragePooling1D(keepdims=True), L.Flatten()],
        "reshape-minus-one": [L.LSTM(4, return_sequences=True), L.Reshape((8, -1)), L.Dense(2)],
        "repeat-vector": [L.GRU(3), L.RepeatVector(4), L.SimpleRNN(2)],
        "norms": [L.BatchNormalization(), L.LSTM(4), L.LayerNormalization(epsilon=1e-2)],
        "activations": [L.GRU(6), L.Activation("selu"), L.ReLU(negative_slope=0.1, threshold=0.05), L.Softmax()],
        "relu-capped-leaky": [L.LSTM(5), L.LeakyReLU(0.2), L.ReLU(max_value=0.3), L.ELU(alpha=0.5)],
        "prelu-sequence": [L.SimpleRNN(4, return_sequences=True), L.PReLU(), L.TimeDistributed(L.Dense(2))],
        "training-only": [L.GaussianNoise(0.3), L.SpatialDropout1D(0.2), L.GRU(3), L.AlphaDropout(0.1)],
    }[name]


def _model(name):
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((8, 3)), *_layers(name)])
    rng = np.random.default_rng(4)  # moments and biases random too (variances positive)
    model.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
            if "variance" in v.name
            else w + rng.uniform(-0.3, 0.3, w.shape).astype(np.float32)
            for w, v in zip(model.get_weights(), model.weights)
        ]
    )
    return model


NAMES = (
    "conv-valid-strides",
    "conv-same-dilated",
    "conv-causal-no-bias",
    "pool-max-same",
    "pool-avg-valid",
    "global-avg-keepdims",
    "reshape-minus-one",
    "repeat-vector",
    "norms",
    "activations",
    "relu-capped-leaky",
    "prelu-sequence",
    "training-only",
)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_kernel_matches_keras(tmp_path, name):
    model = _model(name)
    path = export_bundle(model, tmp_path / name, formats=("numpy",)).path
    x = np.random.default_rng(9).uniform(-2, 2, (5, 8, 3)).astype(np.float32)
    got = load(path, backend="numpy").predict(x)
    want = np.asarray(model(x, training=False))
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5


def test_a_merge_graph_runs_in_numpy_and_its_spec_is_version_2(tmp_path):
    import json

    import keras

    from edgernn.runtime.backends.numpy_ref import read_npz

    L = keras.layers
    keras.utils.set_random_seed(1)
    x = keras.Input((6, 2))
    a, b = L.LSTM(3, return_sequences=True)(x), L.GRU(3, return_sequences=True)(x)
    y = L.Concatenate(axis=1)([L.Subtract()([a, b]), L.Maximum()([a, b]), L.Minimum()([a, b])])
    model = keras.Model(x, L.Dense(1)(L.Flatten()(y)))
    path = export_bundle(model, tmp_path / "merge", formats=("numpy",)).path
    spec, _ = read_npz((path / "model.npz").read_bytes(), "model.npz")
    assert spec["version"] == 2 and any("inputs" in rec for rec in spec["layers"])
    xs = np.random.default_rng(0).uniform(-1, 1, (4, 6, 2)).astype(np.float32)
    assert np.abs(load(path, backend="numpy").predict(xs) - np.asarray(model(xs))).max() <= 1e-5
    plain = json.loads((path / "manifest.json").read_text())
    assert not plain.get("refusals")
