"""A sequence output shorter than the input (Conv1D(strides=2) after return_sequences): the manifest's
`output.timesteps`, predict's (batch, T_out, outputs) on every backend, and free-T models a length-changing
layer cannot serve (refused, with --timesteps T the way out). tf2onnx supports such outputs (issue 13)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from edgernn.export import ExportOptions, export_bundle
from edgernn.export.heads import UnsupportedLayerError
from edgernn.runtime import ManifestError, backends, load
from edgernn.runtime.manifest import Manifest

from conftest import MODELS
from helpers import manifest_json


def _strided(steps):
    keras.utils.set_random_seed(5)
    layers = keras.layers
    return keras.Sequential(
        [keras.Input((steps, 2)), layers.LSTM(3, return_sequences=True), layers.Conv1D(2, 2, strides=2)]
    )


@pytest.mark.parametrize("layer", [lambda L: L.Conv1D(2, 2, strides=2), lambda L: L.MaxPooling1D(2)])
def test_free_t_with_a_length_changing_layer_is_refused_naming_the_way_out(tmp_path, layer):
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.LSTM(3, return_sequences=True), layer(keras.layers)])
    with pytest.raises(UnsupportedLayerError, match=r"free sequence length.*--timesteps T"):
        export_bundle(model, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_a_shortened_sequence_output_predicts_t_out_steps_on_every_backend(tmp_path):
    model = _strided(None)  # free T in Keras, fixed at export: the way the refusal above points
    path = export_bundle(model, tmp_path / "b", options=ExportOptions(timesteps=6)).path
    manifest = Manifest.read(path)
    assert manifest.spec.output_timesteps == 3 and manifest.to_json()["output"]["timesteps"] == 3
    x = np.random.default_rng(1).uniform(-1, 1, (5, 6, 2)).astype(np.float32)
    want = np.asarray(model(x, training=False))
    assert want.shape == (5, 3, 2)
    ran = 0
    for backend in ("litert", "onnxruntime", "numpy"):
        if backends.available(backend):
            got = load(path, backend=backend).predict(x)
            assert got.shape == (5, 3, 2) and np.abs(got - want).max() <= 1e-5, backend
            ran += 1
    assert ran


def test_output_timesteps_round_trips_and_old_manifests_mean_the_input_t():
    raw = manifest_json(MODELS / "seed-gru")
    assert Manifest.parse(raw).spec.out_steps == 4 and "timesteps" not in raw["output"]
    raw["output"].update(sequence=True, timesteps=2)
    manifest = Manifest.parse(raw)
    assert manifest.spec.out_steps == 2 and Manifest.parse(manifest.to_json()).to_json() == manifest.to_json()


@pytest.mark.parametrize(
    "change",
    [lambda o: o.update(timesteps=2), lambda o: o.update(sequence=True, timesteps=0)],
    ids=["not-a-sequence", "zero"],
)
def test_malformed_output_timesteps_is_a_manifest_error(change):
    raw = manifest_json(MODELS / "seed-gru")
    change(raw["output"])
    with pytest.raises(ManifestError, match="output.timesteps"):
        Manifest.parse(raw)
