"""ONNX's own RNN/GRU/LSTM ops written from the Keras weights (export/formats/onnx/native.py).

Every native form is exported through the real exporter (which proves it at 1e-5 on batch 1 and 8)
and then checked here again against Keras on fresh windows, with its op list: one recurrent op
per layer, no Loop, no unrolled chain. Layers without an exact form fall back to tf2onnx, saying why.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import load

from helpers import artifact_json, covered

CELLS = {"simple_rnn": ("SimpleRNN", "RNN"), "lstm": ("LSTM", "LSTM"), "gru": ("GRU", "GRU")}
MERGE_MODES = ("concat", "sum", "mul", "ave")


def _model(layers, timesteps=5, features=2, seed=3):
    import keras

    model = keras.Sequential([keras.Input((timesteps, features)), *layers])
    rng = np.random.default_rng(seed)  # every weight random (biases too): no path hides behind zeros
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _layer(cell: str, units: int, **kwargs):
    from keras import layers as L

    return getattr(L, CELLS[cell][0])(units, **kwargs)


def _layer_dense(units: int, **kwargs):
    from keras import layers as L

    return L.Dense(units, **kwargs)


def _check_native(model, path, recurrent_ops: dict[str, int]) -> dict:
    """The ONNX artifact is native with these recurrent ops and matches Keras at batch 1 and 8."""
    entry = artifact_json(path, "onnx")
    assert entry["graph_form"] == "native", entry.get("forms_refused")
    assert {k: entry["ops"].get(k, 0) for k in recurrent_ops} == recurrent_ops
    assert not {"Loop", "Scan", "Tanh", "Sigmoid"} & set(entry["ops"])  # the gates live inside the ops
    predictor = load(path, backend="onnxruntime")
    for batch in (1, 8):
        shape = (batch, *model.inputs[0].shape[1:])
        x = np.random.default_rng(batch).uniform(-1, 1, shape).astype(np.float32)
        np.testing.assert_allclose(predictor.predict(x), np.asarray(model(x, training=False)), atol=1e-5, rtol=0)
    return entry


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_each_cell_stacked_is_one_native_op_per_layer(cell, tmp_path):
    model = _model([_layer(cell, 4, return_sequences=True), _layer(cell, 3), _layer_dense(2)])
    path = export_bundle(model, tmp_path / cell, formats=("onnx",)).path
    _check_native(model, path, {CELLS[cell][1]: 2})
    covered(cell, "onnx", "float32", "model", "onnxruntime")


@pytest.mark.parametrize("mode", MERGE_MODES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_bidirectional_is_one_bidirectional_op_in_every_merge_mode(cell, mode, tmp_path):
    from keras import layers as L

    layers = [
        L.Bidirectional(_layer(cell, 4, return_sequences=True), merge_mode=mode),
        L.Bidirectional(_layer(cell, 3), merge_mode=mode),
        _layer_dense(2),
    ]
    model = _model(layers)
    path = export_bundle(model, tmp_path / f"{cell}-{mode}", formats=("onnx",)).path
    _check_native(model, path, {CELLS[cell][1]: 2})


@pytest.mark.parametrize(
    "name, layers, ops",
    [
        ("gru-reset-before", lambda: [_layer("gru", 4, reset_after=False), _layer_dense(1)], {"GRU": 1}),
        (
            "hard-sigmoid",
            lambda: [
                _layer("lstm", 4, recurrent_activation="hard_sigmoid", return_sequences=True),
                _layer("gru", 3, recurrent_activation="hard_sigmoid", reset_after=False),
                _layer_dense(1),
            ],
            {"LSTM": 1, "GRU": 1},
        ),
        (
            "activations-no-bias",
            lambda: [
                _layer("simple_rnn", 4, activation="relu", use_bias=False, return_sequences=True),
                _layer("lstm", 3, activation="softsign", go_backwards=True, return_sequences=True),
                _layer_dense(2),
            ],
            {"RNN": 1, "LSTM": 1},
        ),
    ],
)
def test_gru_reset_before_hard_sigmoid_and_other_activations_are_exact(name, layers, ops, tmp_path):
    model = _model(layers())
    path = export_bundle(model, tmp_path / name, formats=("onnx",)).path
    _check_native(model, path, ops)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_300_steps_run_as_the_native_op(cell, tmp_path):
    model = _model([_layer(cell, 8), _layer_dense(1)], timesteps=300, features=3)
    path = export_bundle(model, tmp_path / cell, formats=("onnx",)).path
    _check_native(model, path, {CELLS[cell][1]: 1})


def test_an_activation_without_an_onnx_form_keeps_tf2onnx_and_says_why(zoo_models, tmp_path):
    """selu has no ONNX recurrent activation: the model goes to tf2onnx's forms; its neighbour (tanh) did not."""
    model = zoo_models["more-activations"]
    path = export_bundle(model, tmp_path / "selu", formats=("onnx",)).path
    entry = artifact_json(path, "onnx")
    assert entry["graph_form"] in ("unrolled", "fused")
    assert any(r.startswith("native:") and "'selu'" in r for r in entry["forms_refused"])
    x = np.random.default_rng(0).uniform(-1, 1, (4, 5, 2)).astype(np.float32)
    got = load(path, backend="onnxruntime").predict(x)
    np.testing.assert_allclose(got, np.asarray(model(x, training=False)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("entry_id", ["lstm-stacked-seq", "gru-reset_before-seq", "simple_rnn-window"])
def test_step_models_are_native_with_initial_states(entry_id, stream_zoo):
    """The step model is the same op at sequence length 1; stepping it equals the window model."""
    model, path = stream_zoo[entry_id]
    step = artifact_json(path, "onnx", role="step")
    cell = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}[entry_id.split("-")[0]]
    assert step["step_form"] == "native" and step["ops"][cell] >= 1
    assert not {"Loop", "Tanh", "Sigmoid"} & set(step["ops"])
    predictor = load(path, backend="onnxruntime")
    x = np.random.default_rng(2).uniform(-1, 1, (1, *model.inputs[0].shape[1:])).astype(np.float32)
    stream = predictor.stream()
    steps = np.stack([stream.step(x[0, t]) for t in range(x.shape[1])])
    keras_y = np.asarray(model(x, training=False))[0]
    np.testing.assert_allclose(steps[-1] if keras_y.ndim == 1 else steps, keras_y, atol=1e-5, rtol=0)
