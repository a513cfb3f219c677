"""What an export may replace, and per-feature preprocessing checked against Keras."""

import os

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import ExportError, load

from helpers import installed_default_backends, manifest_json


def test_export_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path, zoo_models):
    model = zoo_models["simple_rnn-single"]
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not an edgernn bundle"):
        export_bundle(model, data, formats=("onnx",))
    assert (data / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"], "a temp folder was left behind"
    empty = tmp_path / "empty"
    empty.mkdir()
    export_bundle(model, empty, formats=("onnx",))  # neighbour: an empty folder is fine
    export_bundle(model, empty, formats=("onnx",))  # and so is replacing a bundle
    assert (empty / "manifest.json").exists()


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_export_refuses_a_file_or_link_at_the_target(tmp_path, zoo_models, kind):
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("a file")
    else:
        (tmp_path / "elsewhere").mkdir()
        os.symlink(tmp_path / "elsewhere", target)
    with pytest.raises(ExportError, match="not a folder"):
        export_bundle(zoo_models["simple_rnn-single"], target, formats=("onnx",))
    assert target.is_symlink() if kind == "symlink" else target.read_text() == "a file"


def test_per_feature_preprocessing_matches_keras_on_every_backend(tmp_path, zoo_models):
    """scale/offset per input feature and per output, computed here independently of the runtime."""
    model = zoo_models["simple_rnn-multi"]  # 5 steps, 3 features, 2 outputs
    scale, offset = [0.5, 2.0, 0.01], [1.0, -3.0, 100.0]
    out_scale, out_offset = [4.0, 0.25], [-2.0, 7.0]
    path = export_bundle(
        model, tmp_path / "b", scale=scale, offset=offset, output_scale=out_scale, output_offset=out_offset
    ).path
    raw = np.random.default_rng(5).normal([1.0, -3.0, 100.0], [2.0, 0.5, 100.0], (6, 5, 3)).astype(np.float32)
    x_model = (raw.astype(np.float64) - offset) * scale
    expected = np.asarray(model(x_model.astype(np.float32), training=False), dtype=np.float64) / out_scale + out_offset
    for name in installed_default_backends():
        got = load(path, backend=name).predict(raw)
        # tolerance 1e-5 in model units, mapped to raw units by each output's 1/scale
        assert np.all(np.abs(got - expected) <= 1e-5 / np.asarray(out_scale) + 1e-6), name


def test_long_sequences_use_the_loop_forms_and_keep_parity(tmp_path):
    """Over 256 steps: TFLite as a static batch-1 WHILE loop, ONNX as its native GRU op (free batch)."""

    from edgernn.train import build_model

    model = build_model("gru", 3, timesteps=300, features=1, seed=4)
    path = export_bundle(model, tmp_path / "long", formats=("tflite", "onnx")).path
    forms = {a["format"]: a for a in manifest_json(path)["artifacts"]}
    assert forms["tflite"]["graph_form"] == "while_batch1" and forms["tflite"]["batch"] == 1
    assert "WHILE" in forms["tflite"]["ops"]
    assert forms["onnx"]["graph_form"] == "native" and forms["onnx"]["ops"]["GRU"] == 1
    assert "Loop" not in forms["onnx"]["ops"]
    x = np.random.default_rng(1).uniform(-1, 1, (3, 300, 1)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    for name in ("litert", "onnxruntime"):
        assert np.abs(load(path, backend=name).predict(x) - expected).max() <= 1e-5, name


def test_bidirectional_with_a_different_backward_cell_is_refused():
    import keras

    from edgernn.export import UnsupportedLayerError, inspect_model

    same = keras.layers.Bidirectional(keras.layers.LSTM(2), backward_layer=keras.layers.LSTM(2, go_backwards=True))
    inspect_model(keras.Sequential([keras.Input((4, 1)), same, keras.layers.Dense(1)]))  # neighbour
    mixed = keras.layers.Bidirectional(keras.layers.LSTM(2), backward_layer=keras.layers.GRU(2, go_backwards=True))
    with pytest.raises(UnsupportedLayerError, match="GRU backward layer"):
        inspect_model(keras.Sequential([keras.Input((4, 1)), mixed, keras.layers.Dense(1)]))


def test_export_bundle_returns_the_manifest_it_wrote(zoo_models, tmp_path):
    """ExportResult.manifest is what manifest.json holds (and what the runtime parses back), and it lists
    every file in the folder: nobody has to re-read the manifest after an export."""
    import hashlib

    from edgernn.export import ExportOptions

    result = export_bundle(
        zoo_models["gru-single"], tmp_path / "b", ExportOptions(formats=("onnx", "numpy"), streaming=True, scale=0.5)
    )
    assert result.path == tmp_path / "b" and result.refused == ()
    on_disk = manifest_json(result.path)
    assert result.manifest.to_json() == on_disk
    assert sorted(result.manifest.files + ["manifest.json"]) == sorted(p.name for p in result.path.iterdir())
    for entry in [*result.manifest.entries, result.manifest.golden, result.manifest.source]:  # the files' own bytes
        data = (result.path / entry.file).read_bytes()
        assert entry.bytes == len(data) and entry.sha256 == hashlib.sha256(data).hexdigest(), entry.file
    assert {a.format: a.variant for a in result.manifest.entries} == {"onnx": "float32", "numpy": "float32"}
    assert [a.file for a in result.manifest.artifacts(role="step")] == ["step.onnx", "step.npz"]
    assert result.manifest.spec.x.to_json() == {"offset": [0.0], "scale": [0.5]}
    with pytest.raises(ExportError, match="either options or keywords"):
        export_bundle(zoo_models["gru-single"], tmp_path / "c", ExportOptions(), scale=0.5)
