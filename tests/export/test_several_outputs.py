"""Issue 13 item 3 (outputs): return_state=True, Bidirectional(merge_mode=None) and multi-task heads
export with named outputs; `predict` returns a dict by output name; golden vectors and validate
cover every output (they hold the outputs packed side by side, runtime/outputs.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgernn.export import export_bundle, inspect_model
from edgernn.runtime import load
from edgernn.runtime.errors import ExportError, ManifestError
from edgernn.runtime.manifest import Manifest
from edgernn.runtime.validate import validate

from helpers import installed_default_backends


def _heads_model():
    import keras

    keras.utils.set_random_seed(11)
    L = keras.layers
    x = keras.Input((5, 2))
    h = L.LSTM(3, return_sequences=True)(x)
    return keras.Model(x, [L.Dense(1, name="score")(L.GlobalAveragePooling1D()(h)), L.Dense(2, name="tags")(h)])


@pytest.fixture(scope="module")
def heads(tmp_path_factory):
    model = _heads_model()
    result = export_bundle(model, tmp_path_factory.mktemp("heads") / "two", formats=("tflite", "onnx", "numpy", "c"))
    return model, result


def test_manifest_names_every_output_and_the_c_refusal(heads):
    _, result = heads
    raw = json.loads((result.path / "manifest.json").read_text())
    assert raw["output"]["heads"] == [{"name": "score", "shape": [1]}, {"name": "tags", "shape": [5, 2]}]
    assert raw["output"]["outputs"] == 11  # packed: 1 + 5 x 2 values a row
    assert {a.format for a in result.manifest.entries} == {"tflite", "onnx", "numpy"}
    assert [r.format for r in result.manifest.refusals] == ["c"]
    assert "writes one output" in result.manifest.refusals[0].reason
    golden = np.load(result.path / "golden.npz")
    assert golden["outputs"].shape[1] == 11, "the golden vectors hold every output"


@pytest.mark.parametrize("backend", installed_default_backends())
def test_predict_returns_a_dict_by_output_name_on_every_backend(heads, backend):
    model, result = heads
    x = np.random.default_rng(2).uniform(-1, 1, (3, 5, 2)).astype(np.float32)
    score, tags = (np.asarray(t) for t in model(x, training=False))
    predictor = load(result.path, backend=backend)
    first = predictor.predict(x[:1])  # batch 1 first: the shape a fresh interpreter is allocated at
    np.testing.assert_allclose(first["tags"], tags[:1], atol=1e-5, rtol=0)
    for got in (predictor.predict(x), predictor.predict(x, allow_nonfinite=True)):
        assert list(got) == ["score", "tags"]
        np.testing.assert_allclose(got["score"], score, atol=1e-5, rtol=0)
        np.testing.assert_allclose(got["tags"], tags, atol=1e-5, rtol=0)
    assert predictor.predict(x[:1])["tags"].shape == (1, 5, 2)


def test_validate_checks_every_output(heads):
    _, result = heads
    rows = validate(result.path)
    assert len(rows) >= 6 and all(row.passed for row in rows)  # golden and golden-raw x 3 artifacts


@pytest.mark.parametrize(
    "kind, names, formats",
    [
        ("return_state", ["lstm_s:0", "lstm_s:1", "lstm_s:2"], {"tflite", "onnx"}),
        ("merge_none", ["bi:0", "bi:1"], {"tflite", "onnx"}),
    ],
)
def test_state_outputs_and_merge_none_export_in_the_converter_formats(tmp_path, kind, names, formats):
    import keras

    keras.utils.set_random_seed(3)
    L = keras.layers
    x = keras.Input((4, 2))
    if kind == "return_state":
        y = L.LSTM(3, return_state=True, return_sequences=True, name="lstm_s")(x)
    else:
        y = L.Bidirectional(L.GRU(3), merge_mode=None, name="bi")(x)
    model = keras.Model(x, y)
    assert [h.name for h in inspect_model(model).heads] == names
    result = export_bundle(model, tmp_path / kind, formats=("tflite", "onnx", "numpy"))
    assert {a.format for a in result.manifest.entries} == formats
    (numpy,) = result.manifest.refusals
    assert "a layer's main output only" in numpy.reason
    xs = np.random.default_rng(0).uniform(-1, 1, (2, 4, 2)).astype(np.float32)
    want = [np.asarray(t) for t in model(xs)]
    for backend in ("litert", "onnxruntime"):
        got = load(result.path, backend=backend).predict(xs)
        assert list(got) == names
        for name, w in zip(names, want):
            np.testing.assert_allclose(got[name], w, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"output_scale": 2.0}, "an output map for several outputs is not implemented"),
        ({"streaming": True}, "step models with several outputs are not implemented"),
        ({"quantize": "dynamic"}, "quantized variants with several outputs are not implemented"),
    ],
)
def test_several_outputs_refuse_what_is_not_implemented_with_the_reason(tmp_path, options, expected):
    with pytest.raises(ExportError, match=expected):
        export_bundle(_heads_model(), tmp_path / "x", formats=("numpy",), **options)


def test_one_output_models_still_return_one_array(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3, 1)), keras.layers.GRU(2)])
    result = export_bundle(model, tmp_path / "one", formats=("numpy",))
    assert "heads" not in json.loads((result.path / "manifest.json").read_text())["output"]
    assert type(load(result.path).predict(np.zeros((1, 3, 1), np.float32))) is np.ndarray


@pytest.mark.parametrize(
    "heads_value, expected",
    [
        ([{"name": "a", "shape": [1]}], "2 or more"),
        ([{"name": "a", "shape": [1]}, {"name": "a", "shape": [10]}], "distinct names"),
        ([{"name": "a", "shape": [1]}, {"name": "b", "shape": [0]}], "2 or more"),
        ([{"name": "a", "shape": [1]}, {"name": "b", "shape": [2]}], "hold 3 values a row, output.outputs 11"),
    ],
)
def test_malformed_heads_are_refused(heads, heads_value, expected):
    _, result = heads
    raw = json.loads((result.path / "manifest.json").read_text())
    raw["output"]["heads"] = heads_value
    with pytest.raises(ManifestError, match=expected):
        Manifest.parse(raw)


def test_the_cli_prints_one_line_per_output(heads, capsys):
    from edgernn.runtime.cli.main import main

    model, result = heads
    x = np.linspace(-1, 1, 10, dtype=np.float32)
    assert main(["predict", str(result.path), *map(str, x)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["score", "tags"]
    assert main(["info", str(result.path)]) == 0
    assert "output   score (batch, 1), tags (batch, 5, 2)" in capsys.readouterr().out
    want = np.asarray(model(x.reshape(1, 5, 2))[1]).reshape(-1)
    np.testing.assert_allclose(np.array(lines[1].split()[1:], np.float32), want, atol=1e-5, rtol=0)


def test_a_bundle_with_several_outputs_re_exports(heads, tmp_path):
    _, result = heads
    again = export_bundle(str(result.path), tmp_path / "again", formats=("onnx",))
    assert [h.name for h in again.manifest.spec.heads] == ["score", "tags"]
