"""Functional models (not only Sequential) with Dropout export and keep parity."""

import numpy as np

from edgernn.export import export_bundle, inspect_model
from edgernn.runtime import load

from helpers import installed_default_backends


def test_functional_model_with_dropout_exports_with_parity(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((5, 2), name="window")
    x = keras.layers.LSTM(4, return_sequences=True)(inp)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.GRU(3, reset_after=False)(x)
    out = keras.layers.Dense(2, activation="tanh")(x)
    model = keras.Model(inp, out)
    info = inspect_model(model)
    assert info.cells == ("lstm", "gru") and info.outputs == 2
    path = export_bundle(model, tmp_path / "functional").path
    x = np.random.default_rng(0).uniform(-1, 1, (8, 5, 2)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    for name in installed_default_backends():
        got = load(path, backend=name).predict(x)
        assert np.abs(got - expected).max() <= 1e-5, name
