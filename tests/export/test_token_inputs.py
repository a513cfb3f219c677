"""Issue 13 item 5: an Embedding(mask_zero) text classifier takes int32 token ids (batch, T) in every
format that can carry it; the manifest says so, `predict` checks the ids, no input map applies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgernn.export import UnsupportedLayerError, export_bundle
from edgernn.runtime import load
from edgernn.runtime.errors import ExportError, InputError, ManifestError
from edgernn.runtime.manifest import Manifest

from helpers import installed_default_backends

VOCABULARY, STEPS = 20, 6


def _model(dtype="int32"):
    import keras

    keras.utils.set_random_seed(7)
    L = keras.layers
    return keras.Sequential(
        [keras.Input((STEPS,), dtype=dtype), L.Embedding(VOCABULARY, 4, mask_zero=True), L.LSTM(3), L.Dense(2)]
    )


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """The classifier exported with an output map (kept in Python: nothing to fold into for ids)."""
    model = _model()
    result = export_bundle(
        model, tmp_path_factory.mktemp("tokens") / "text", formats=("tflite", "onnx", "numpy", "c"), output_scale=2.0
    )
    ids = np.random.default_rng(1).integers(1, VOCABULARY, (5, STEPS)).astype(np.int32)
    ids[0, -3:], ids[1, :2], ids[2, 2:4] = 0, 0, 0  # padded: tail, head, middle
    return model, result, ids


def test_manifest_records_int32_token_input_and_the_refused_formats(tokens):
    _, result, _ = tokens
    raw = json.loads((result.path / "manifest.json").read_text())
    assert raw["input"] == {"name": "input", "timesteps": STEPS, "features": None, "dtype": "int32", "vocabulary": 20}
    assert "token-id inputs take no input map" in raw["preprocessing"]["fold_note"]
    assert {a.format for a in result.manifest.entries} == {"tflite", "onnx", "numpy"}
    (refusal,) = result.manifest.refusals
    assert refusal.format == "c" and "embedding" in refusal.reason
    golden = np.load(result.path / "golden.npz")
    assert golden["inputs"].dtype == np.int32 and golden["inputs"].shape[1:] == (STEPS,)
    assert (golden["inputs"] == 0).any(), "the golden ids pad with id 0, so validate re-checks the mask"
    spec = Manifest.parse(raw).spec
    assert (spec.tokens, spec.vocabulary, spec.input_tail, spec.input_dtype) == (True, 20, (STEPS,), "int32")


@pytest.mark.parametrize("backend", installed_default_backends())
def test_every_backend_matches_keras_on_padded_ids(tokens, backend):
    model, result, ids = tokens
    want = np.asarray(model(ids, training=False)) / 2.0  # raw units: y_model / output_scale
    predictor = load(result.path, backend=backend)
    assert type(predictor).__name__ == "TokenPredictor"
    for x in (ids, ids[:1], ids.astype(np.int64), ids.astype(np.float32), ids.tolist()):
        got = predictor.predict(x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want[: len(got)], atol=1e-5, rtol=0)
    padded = ids.copy()
    padded[0, -3:] = 5  # a padded id changed: the answer changes, so the mask is not ignored
    assert np.abs(predictor.predict(padded)[0] - want[0]).max() > 1e-4


@pytest.mark.parametrize(
    "x, expected",
    [
        (np.full((1, STEPS), 0.5), "not whole numbers (such as 0.5)"),
        (np.full((1, STEPS), np.nan), "not whole numbers (such as nan)"),
        (np.full((1, STEPS), VOCABULARY), f"got id {VOCABULARY} outside the vocabulary"),
        (np.full((1, STEPS), -1), "got id -1 outside the vocabulary"),
        (np.zeros(STEPS, np.int32), "Add a batch axis"),
        (np.zeros((1, STEPS, 1), np.int32), f"shaped (batch, {STEPS}) in [0, {VOCABULARY}), got shape (1, {STEPS}, 1)"),
        (np.array([["a"] * STEPS]), "got dtype <U1"),
    ],
)
def test_predict_refuses_what_is_not_a_token_id(tokens, x, expected):
    _, result, _ = tokens
    with pytest.raises(InputError, match="expected") as err:
        load(result.path, backend="numpy").predict(x)
    assert expected in str(err.value)


def test_a_float_input_into_an_embedding_exports_as_int32_ids(tmp_path):
    """The peers' models (tf2onnx test_embedding) use keras.Input((T,)) float: Keras casts it to ids."""
    model = _model(dtype="float32")
    result = export_bundle(model, tmp_path / "f", formats=("tflite",))
    assert result.manifest.spec.input_dtype == "int32"
    ids = np.arange(STEPS, dtype=np.int32)[None] % VOCABULARY
    np.testing.assert_allclose(load(result.path).predict(ids), np.asarray(model(ids)), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"scale": 0.5}, "a preprocessing map does not apply to ids"),
        ({"offset": [1.0]}, "a preprocessing map does not apply to ids"),
        ({"streaming": True}, "step models for token inputs are not implemented"),
        ({"quantize": "dynamic"}, "quantized variants for token inputs are not implemented"),
    ],
)
def test_token_models_refuse_input_maps_streaming_and_variants_with_the_reason(tmp_path, options, expected):
    with pytest.raises(ExportError, match=expected):
        export_bundle(_model(), tmp_path / "x", formats=("numpy",), **options)
    assert not (tmp_path / "x").exists()


def test_an_integer_input_not_into_an_embedding_is_refused():
    import keras

    model = keras.Sequential([keras.Input((STEPS, 2), dtype="int32"), keras.layers.LSTM(2)])
    with pytest.raises(UnsupportedLayerError, match="token ids .* straight into an Embedding"):
        export_bundle(model, "/nonexistent/never-written")


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"dtype": "int64"}, "float32 windows or int32 token ids only"),
        ({"vocabulary": 0}, "input.vocabulary"),
        ({"features": 3}, "input.features must be null"),
    ],
)
def test_malformed_token_manifests_are_refused(tokens, change, expected):
    _, result, _ = tokens
    raw = json.loads((result.path / "manifest.json").read_text())
    raw["input"].update(change)
    with pytest.raises(ManifestError, match=expected):
        Manifest.parse(raw)


def test_a_map_on_token_ids_in_a_manifest_is_refused(tokens):
    _, result, _ = tokens
    raw = json.loads((result.path / "manifest.json").read_text())
    raw["preprocessing"]["input"] = {"offset": [0.0], "scale": [2.0]}
    with pytest.raises(ManifestError, match="token inputs take no map"):
        Manifest.parse(raw)


def test_the_cli_predicts_ids_given_as_values_and_refuses_a_fraction(tokens, capsys):
    from edgernn.runtime.cli.main import main

    model, result, ids = tokens
    assert main(["predict", str(result.path), *map(str, ids[0])]) == 0
    got = np.array(capsys.readouterr().out.split(), np.float32)
    np.testing.assert_allclose(got, np.asarray(model(ids[:1]))[0] / 2.0, atol=1e-5, rtol=0)
    assert main(["predict", str(result.path), "1", "2", "3", "4", "5", "0.5"]) == 2
    assert "not whole numbers" in capsys.readouterr().err


def test_a_token_bundle_re_exports_with_its_output_map(tokens, tmp_path):
    _, result, ids = tokens
    again = export_bundle(str(result.path), tmp_path / "again", formats=("onnx",))
    assert again.manifest.spec.vocabulary == VOCABULARY and not again.manifest.spec.y.identity
    np.testing.assert_allclose(load(again.path).predict(ids), load(result.path).predict(ids), atol=1e-6, rtol=0)
