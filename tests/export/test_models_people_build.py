"""Issue 13: any layer the converters prove, per-format refusals in the manifest and `edgernn info`,
and a fixed Input batch (several inputs: test_several_inputs.py; outputs: test_several_outputs.py). Every case of the
conformance suite (peers' configurations and the zoo) runs in tests/conformance/."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import load
from edgernn.runtime.cli.main import main

from helpers import installed_default_backends


def _seeded(model, seed=3):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def padded_bundle(tmp_path_factory):
    """ZeroPadding1D -> LSTM: the converters prove it, the numpy and C kernels lack ZeroPadding1D."""
    import keras

    L = keras.layers
    model = _seeded(keras.Sequential([keras.Input((5, 2)), L.ZeroPadding1D(1), L.Conv1D(3, 2), L.LSTM(4), L.Dense(1)]))
    path = export_bundle(model, tmp_path_factory.mktemp("people") / "padded", formats=("tflite", "onnx", "numpy", "c"))
    return model, path.path


def test_a_layer_without_numpy_kernel_gives_tflite_and_onnx_and_no_npz(padded_bundle, capsys):
    model, path = padded_bundle
    manifest = json.loads((path / "manifest.json").read_text())
    assert sorted(a["format"] for a in manifest["artifacts"]) == ["onnx", "tflite"]
    refused = {r["format"]: r["reason"] for r in manifest["refusals"]}
    assert set(refused) == {"numpy", "c"} and "ZeroPadding1D" in refused["numpy"]
    assert not (path / "model.npz").exists() and not (path / "model.h").exists()  # a refused format leaves nothing
    onnx_entry = next(a for a in manifest["artifacts"] if a["format"] == "onnx")
    assert onnx_entry["forms_refused"][0].startswith("native:")  # the refused form's reason is kept
    x = np.random.default_rng(1).uniform(-1, 1, (3, 5, 2)).astype(np.float32)
    want = np.asarray(model(x))
    for backend in ("litert", "onnxruntime"):
        assert np.abs(load(path, backend=backend).predict(x) - want).max() <= 1e-5
    assert main(["info", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "refused  numpy model:" in shown and "ZeroPadding1D" in shown


def test_export_cli_exits_1_and_names_the_refused_format(padded_bundle, tmp_path, capsys):
    _, path = padded_bundle
    assert main(["export", str(path), "--out", str(tmp_path / "again"), "--formats", "onnx,numpy"]) == 1
    assert "format numpy (model) not written" in capsys.readouterr().err
    assert (tmp_path / "again" / "model.onnx").exists()


@pytest.mark.parametrize("batch_shape", [(2, 5, 2), (4, 10, 10)])
def test_a_fixed_input_batch_gives_free_batch_files_and_says_so(tmp_path, batch_shape):
    import keras

    from edgernn.runtime.backends import litert

    L = keras.layers
    model = _seeded(keras.Sequential([keras.Input(batch_shape=batch_shape), L.LSTM(3), L.Dense(1)]))
    result = export_bundle(model, tmp_path / "b", formats=("tflite", "onnx"))
    tfl = next(a for a in result.manifest.entries if a.format == "tflite")
    assert tfl.graph_form == "unrolled" and tfl.batch is None and "forms_refused" not in tfl.extra
    interp = litert.interpreter_module().Interpreter(model_content=(result.path / "model.tflite").read_bytes())
    assert interp.get_input_details()[0]["shape_signature"][0] == -1  # the file's batch is free, as the manifest says
    x = np.random.default_rng(0).uniform(-1, 1, (7, *batch_shape[1:])).astype(np.float32)  # another batch size
    for backend in installed_default_backends():
        if backend != "numpy":
            assert np.abs(load(result.path, backend=backend).predict(x) - np.asarray(model(x))).max() <= 1e-5


@pytest.fixture(scope="module")
def free_t(tmp_path_factory):
    import keras

    L = keras.layers
    model = _seeded(keras.Sequential([keras.Input((None, 2)), L.LSTM(4, return_sequences=True), L.Dense(1)]))
    root = tmp_path_factory.mktemp("free")
    return model, export_bundle(model, root / "free", formats=("tflite", "onnx", "numpy", "c"), streaming=True).path


@pytest.mark.parametrize("steps", [1, 7, 300])
def test_free_sequence_length_predicts_any_t(free_t, steps):
    model, path = free_t
    x = np.random.default_rng(steps).uniform(-1, 1, (2, steps, 2)).astype(np.float32)
    want = np.asarray(model(x))
    for backend in installed_default_backends():
        got = load(path, backend=backend).predict(x)
        assert got.shape == (2, steps, 1) and np.abs(got - want).max() <= 1e-5, backend


def test_free_sequence_length_manifest_forms_and_refusals(free_t, tmp_path):
    model, path = free_t
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["input"]["timesteps"] is None and manifest["input"]["example_timesteps"] == 8
    forms = {a["format"]: a["graph_form"] for a in manifest["artifacts"] if a["role"] == "model"}
    assert forms == {"tflite": "while_batch1", "onnx": "native", "numpy": "reference"}
    assert [r["format"] for r in manifest["refusals"]] == ["c"] and "--timesteps" in manifest["refusals"][0]["reason"]
    with pytest.raises(Exception, match="--timesteps T"):
        export_bundle(model, tmp_path / "q", formats=("tflite",), quantize="dynamic")
    fixed = export_bundle(model, tmp_path / "fixed", formats=("tflite", "onnx", "c"), timesteps=5)
    assert fixed.manifest.spec.timesteps == 5 and {e.format for e in fixed.manifest.entries} == {"tflite", "onnx", "c"}
    assert next(e for e in fixed.manifest.entries if e.format == "tflite").graph_form == "unrolled"


def test_masking_is_proven_on_padded_windows_and_the_wrong_unrolled_form_is_refused(tmp_path):
    import keras

    from edgernn.runtime.errors import ExportError

    L = keras.layers
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [keras.Input((6, 2)), L.Masking(-1.0), L.Bidirectional(L.LSTM(3, return_sequences=True)), L.Dense(2)]
    )
    result = export_bundle(model, tmp_path / "masked", formats=("tflite", "onnx", "numpy"))
    golden = np.load(result.path / "golden.npz")
    assert np.any(np.all(golden["inputs"] == -1.0, axis=-1))  # the golden windows hit the mask (validate re-checks)
    tfl = next(e for e in result.manifest.entries if e.format == "tflite")
    # Keras's unroll=True clone ignores the mask in the backward half: the padded proof refuses that form
    assert tfl.graph_form == "while_batch1" and "unrolled" in tfl.extra["forms_refused"][0]
    x = np.random.default_rng(2).uniform(-1, 1, (4, 6, 2)).astype(np.float32)
    x[0, 4:], x[1, :3], x[2, 2:4] = -1.0, -1.0, -1.0
    want = np.asarray(model(x))
    for backend in installed_default_backends():
        assert np.abs(load(result.path, backend=backend).predict(x) - want).max() <= 1e-5, backend
    with pytest.raises(ExportError, match="Masking"):
        export_bundle(model, tmp_path / "stream", formats=("numpy",), streaming=True)


def test_only_a_causal_conv1d_streams():
    import keras

    from edgernn.export.streaming import check_streamable

    L = keras.layers
    causal = keras.Sequential([keras.Input((6, 2)), L.Conv1D(3, 2, padding="causal"), L.GRU(3)])
    check_streamable(causal)  # neighbour: proven by tests/conformance (causal-cnn-lstm-streaming)
    same = keras.Sequential([keras.Input((6, 2)), L.Conv1D(3, 2, padding="same"), L.GRU(3)])
    with pytest.raises(Exception, match="reads later samples"):
        check_streamable(same)
