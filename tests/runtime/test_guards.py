"""Each guard next to its passing neighbour."""

import json
import shutil

import numpy as np
import pytest

from edgernn.export import UnsupportedLayerError, export_bundle, inspect_model
from edgernn.runtime import ExportError, InputError, IntegrityError, UnsupportedModelError, load
from edgernn.runtime.bundle import sha256_bytes
from edgernn.runtime.vet.tflite_ops import custom_ops

from helpers import manifest_json


@pytest.fixture(scope="session")
def flex_tflite(tmp_path_factory):
    """A .tflite with Flex ops: what model.export(format='litert') emits for a free-batch RNN."""
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4, 1)), keras.layers.LSTM(3), keras.layers.Dense(1)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    converter._experimental_lower_tensor_list_ops = False
    return converter.convert()


def _copy(bundle, tmp_path):
    dst = tmp_path / "bundle"
    shutil.copytree(bundle, dst)
    return dst


def test_flex_tflite_is_refused_by_the_runtime_and_the_builtin_one_loads(flex_tflite, seed_bundle, tmp_path):
    assert any(op.startswith("Flex") for op in custom_ops(flex_tflite))
    load(seed_bundle, backend="litert")  # the neighbour: builtin-only loads
    bundle = _copy(seed_bundle, tmp_path)
    (bundle / "model.tflite").write_bytes(flex_tflite)
    man = manifest_json(bundle)
    art = next(a for a in man["artifacts"] if a["format"] == "tflite")
    art.update(bytes=len(flex_tflite), sha256=sha256_bytes(flex_tflite))
    (bundle / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(UnsupportedModelError, match="Flex"):
        load(bundle, backend="litert")


def test_flex_output_is_refused_by_the_exporter():
    """Let the real converter use TF ops (as model.export does): the exporter refuses the file."""
    import keras
    import tensorflow as tf

    from edgernn.export.formats.tflite import convert as tflite_export

    model = keras.Sequential([keras.Input((4, 1)), keras.layers.LSTM(3), keras.layers.Dense(1)])

    def allow_tf_ops(converter):
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        converter._experimental_lower_tensor_list_ops = False

    with pytest.raises(UnsupportedModelError, match="Flex"):
        tflite_export.convert(model, configure=allow_tf_ops)


def test_custom_layer_is_refused_and_a_builtin_conv1d_is_accepted(zoo_models):
    import keras

    inspect_model(zoo_models["lstm-single"])  # neighbour
    conv = keras.Sequential(
        [keras.Input((4, 1)), keras.layers.Conv1D(2, 2), keras.layers.LSTM(3), keras.layers.Dense(1)]
    )
    assert inspect_model(conv).layers[0]["class"] == "Conv1D"  # prove, don't whitelist: the proof decides

    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2

    model = keras.Sequential([keras.Input((4, 1)), Twice(), keras.layers.LSTM(3), keras.layers.Dense(1)])
    with pytest.raises(UnsupportedLayerError, match="Twice is a custom layer"):
        inspect_model(model)


def test_stateful_model_is_described_as_stateful():
    import keras

    ok = keras.Sequential([keras.Input((4, 1), batch_size=1), keras.layers.GRU(3), keras.layers.Dense(1)])
    assert not inspect_model(ok).stateful
    stateful = keras.Sequential(
        [keras.Input((4, 1), batch_size=1), keras.layers.GRU(3, stateful=True), keras.layers.Dense(1)]
    )
    assert inspect_model(
        stateful
    ).stateful  # exported from a stateless clone (tests/export/test_models_people_build.py)


def test_a_free_time_dimension_is_accepted():
    import keras

    free = keras.Sequential([keras.Input((None, 1)), keras.layers.SimpleRNN(3), keras.layers.Dense(1)])
    assert inspect_model(free).timesteps is None


@pytest.mark.parametrize(
    "bad,expected",
    [
        (np.zeros((1, 5, 1)), r"\(batch, 4, 1\).*got \(1, 5, 1\)"),
        (np.zeros((1, 4, 2)), r"got \(1, 4, 2\)"),
        (np.zeros((4, 1)), r"Add a batch axis"),
        ([["a", "b", "c", "d"]], "float32"),
        (np.full((1, 4, 1), np.nan), "NaN"),
    ],
)
def test_wrong_input_is_an_input_error_and_the_right_one_works(seed_bundle, bad, expected):
    predictor = load(seed_bundle)
    assert predictor.predict(np.zeros((2, 4, 1))).shape == (2, 1)
    assert predictor.predict([[[1], [2], [3], [4]]]).shape == (1, 1)  # lists and float64 are converted
    with pytest.raises(InputError, match=expected):
        predictor.predict(bad)


def test_empty_batch_returns_an_empty_result(seed_bundle):
    assert load(seed_bundle).predict(np.zeros((0, 4, 1))).shape == (0, 1)


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_flipped_byte_is_an_integrity_error(seed_bundle, tmp_path, fmt):
    backend = {"tflite": "litert", "onnx": "onnxruntime"}[fmt]
    bundle = _copy(seed_bundle, tmp_path)
    load(bundle, backend=backend)  # neighbour: untouched copy loads
    path = bundle / f"model.{fmt}"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"model.{fmt}"):
        load(bundle, backend=backend)


def test_lambda_layer_in_a_keras_file_is_refused(tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input((4, 1)), keras.layers.Lambda(lambda t: t * 2), keras.layers.LSTM(2), keras.layers.Dense(1)]
    )
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ExportError, match="Lambda|safe_mode"):
        export_bundle(tmp_path / "lambda.keras", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_keras_file_exports_like_the_model(tmp_path, zoo_models):
    zoo_models["gru-single"].save(tmp_path / "m.keras")
    path = export_bundle(tmp_path / "m.keras", tmp_path / "b", formats=("tflite",)).path
    x = np.ones((1, 4, 1), dtype=np.float32)
    np.testing.assert_allclose(load(path).predict(x), np.asarray(zoo_models["gru-single"](x)), atol=1e-5)


def test_failed_export_leaves_the_earlier_bundle_intact(tmp_path, zoo_models):
    target = tmp_path / "bundle"
    export_bundle(zoo_models["simple_rnn-single"], target, formats=("tflite",))
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(ExportError, match="unknown format"):
        export_bundle(zoo_models["lstm-single"], target, formats=("tflite", "bogus"))
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"], "a temp folder was left behind"
    load(target).predict(np.zeros((1, 4, 1)))


def test_preprocessing_maps_raw_units_both_ways(tmp_path, zoo_models):
    model = zoo_models["simple_rnn-single"]
    path = export_bundle(model, tmp_path / "b", formats=("onnx",), scale=0.5, offset=2.0).path
    raw = np.array([[[4.0], [6.0], [2.0], [0.0]]], dtype=np.float32)
    expected = np.asarray(model((raw - 2.0) * 0.5)) / 0.5 + 2.0
    np.testing.assert_allclose(load(path).predict(raw), expected, atol=1e-5)
    with pytest.raises(ExportError, match="scale"):
        export_bundle(model, tmp_path / "c", scale=0.0)
