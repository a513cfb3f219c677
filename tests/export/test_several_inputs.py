"""Issue 13 item 3 (inputs): two-input functional models (two sequences; a sequence plus a static feature
vector into the head) export with named inputs; `predict` takes a dict by input name or a list in the
manifest's order; golden vectors and validate cover every input (they hold the inputs packed side by
side, runtime/inputs.py); a missing, unknown or misshaped input is an InputError naming what was expected."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgernn.export import export_bundle, inspect_model
from edgernn.runtime import load
from edgernn.runtime.errors import ExportError, InputError, ManifestError
from edgernn.runtime.manifest import Manifest
from edgernn.runtime.validate import validate

from helpers import installed_default_backends

FORMATS = ("tflite", "onnx", "numpy", "c")


def _two_sequences():
    """Two sensor streams at the same rate, joined per step, then one LSTM."""
    import keras

    keras.utils.set_random_seed(21)
    L = keras.layers
    a, b = keras.Input((5, 3), name="accel"), keras.Input((5, 2), name="gyro")
    return keras.Model([a, b], L.Dense(2)(L.LSTM(4)(L.Concatenate()([a, b]))))


def _sequence_and_static():
    """A sequence through a GRU and a static feature vector, concatenated into the head."""
    import keras

    keras.utils.set_random_seed(22)
    L = keras.layers
    seq, static = keras.Input((6, 2), name="seq"), keras.Input((3,), name="static")
    head = L.Dense(4, activation="tanh")(L.Concatenate()([L.GRU(5)(seq), static]))
    return keras.Model([seq, static], L.Dense(1, name="score")(head))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    made = {}
    for name, build in (("two_sequences", _two_sequences), ("sequence_and_static", _sequence_and_static)):
        model = build()
        made[name] = model, export_bundle(model, root / name, formats=FORMATS)
    return made


def _inputs(model, batch: int, seed: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (batch, *t.shape[1:])).astype(np.float32) for t in model.inputs]


def test_manifest_names_every_input_with_shape_and_dtype(bundles):
    _, result = bundles["sequence_and_static"]
    raw = json.loads((result.path / "manifest.json").read_text())
    assert raw["input"]["inputs"] == [
        {"name": "seq", "shape": [6, 2], "dtype": "float32"},
        {"name": "static", "shape": [3], "dtype": "float32"},
    ]
    assert (raw["input"]["timesteps"], raw["input"]["features"]) == (6, 15)  # packed: 6 x 2 + 3 values a row
    assert {a.format for a in result.manifest.entries} == {"tflite", "onnx", "numpy"}
    (c,) = result.manifest.refusals
    assert c.format == "c" and "takes one window" in c.reason and "2 inputs" in c.reason
    onnx = result.manifest.artifacts(formats=["onnx"])[0]
    assert onnx.graph_form != "native" and "native" in onnx.extra["forms_refused"][0]
    golden = np.load(result.path / "golden.npz")
    assert golden["inputs"].shape[1] == 15, "the golden vectors hold every input"


def test_the_files_carry_the_keras_input_names(bundles):
    import onnx

    from edgernn.runtime.backends.litert import interpreter

    _, result = bundles["two_sequences"]
    graph = onnx.load(str(result.path / "model.onnx")).graph
    assert sorted(i.name for i in graph.input) == ["accel", "gyro"]
    signature = interpreter((result.path / "model.tflite").read_bytes(), "model.tflite")._get_full_signature_list()
    assert sorted(signature["serving_default"]["inputs"]) == ["accel", "gyro"]


@pytest.mark.parametrize("name", ["two_sequences", "sequence_and_static"])
@pytest.mark.parametrize("backend", installed_default_backends())
def test_predict_takes_a_dict_or_a_list_on_every_backend(bundles, name, backend):
    model, result = bundles[name]
    xs = _inputs(model, 3)
    want = np.asarray(model(xs, training=False))
    predictor = load(result.path, backend=backend)
    names = [p.name for p in predictor.spec.inputs]
    first = predictor.predict({n: x[:1] for n, x in zip(names, xs)})  # batch 1 first: a fresh interpreter's shape
    np.testing.assert_allclose(first, want[:1], atol=1e-5, rtol=0)
    for got in (
        predictor.predict(dict(zip(reversed(names), reversed(xs)))),  # a dict in any key order
        predictor.predict(xs),
        predictor.predict(tuple(xs), allow_nonfinite=True),
        predictor.predict(np.concatenate([x.reshape(3, -1) for x in xs], axis=1)),  # packed, as golden.npz holds
    ):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert predictor.predict([x[:0] for x in xs]).shape == (0, want.shape[1])


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda xs: {"seq": xs[0]}, r"missing \['static'\]"),
        (lambda xs: {"seq": xs[0], "static": xs[1], "extra": xs[1]}, r"unknown \['extra'\]"),
        (lambda xs: [xs[0]], "got a list of 1 items"),
        (lambda xs: xs[0], r"got ndarray shaped \(2, 6, 2\)"),
        (lambda xs: [xs[0], xs[1][:, :2]], r"input 'static': expected shape \(batch, 3\), got \(2, 2\)"),
        (lambda xs: [xs[0][0], xs[1]], r"input 'seq': expected shape \(batch, 6, 2\), got \(6, 2\). Add a batch"),
        (lambda xs: [xs[0], xs[1][:1]], "different batch sizes"),
        (lambda xs: [xs[0], np.full((2, 3), np.nan, np.float32)], "NaN or inf"),
    ],
)
def test_a_missing_extra_or_misshaped_input_is_an_input_error_naming_what_is_expected(bundles, make, expected):
    model, result = bundles["sequence_and_static"]
    predictor = load(result.path, backend="numpy")
    with pytest.raises(InputError, match=expected) as caught:
        predictor.predict(make(_inputs(model, 2)))
    if "expected 2 inputs" in str(caught.value):
        assert "'seq' (batch, 6, 2), 'static' (batch, 3)" in str(caught.value)


def test_validate_checks_every_input(bundles):
    for _, result in bundles.values():
        rows = validate(result.path)
        assert len(rows) >= 6 and all(row.passed for row in rows)  # golden and golden-raw x 3 artifacts


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"scale": {"accel": [1.0, 2.0]}}, r"scale of input 'accel' has 2 values; expected 1 or 3"),
        ({"offset": {"nope": 1.0}}, r"offset names inputs \['nope'\]"),
        ({"timesteps": 5}, "each is at a fixed size already"),
        (
            {"streaming": True},
            "streams when the inputs beyond one sequence are only its recurrent layers. initial_state",
        ),
        ({"quantize": "dynamic"}, "quantized .and TFLM. variants with several inputs are not implemented"),
    ],
)
def test_several_inputs_refuse_what_is_not_implemented_with_the_reason(tmp_path, options, expected):
    with pytest.raises(ExportError, match=expected):
        export_bundle(_two_sequences(), tmp_path / "x", formats=("numpy",), **options)


def test_a_map_per_input_is_applied_in_python_with_the_reason_it_is_not_folded(tmp_path):
    model = _sequence_and_static()
    scale, offset = {"seq": [0.5, 2.0], "static": 0.1}, {"seq": [10.0, -1.0]}  # 'static' keeps offset 0
    result = export_bundle(model, tmp_path / "mapped", formats=("tflite", "onnx", "numpy"), scale=scale, offset=offset)
    spec = result.manifest.spec
    assert not spec.folded and "several inputs" in spec.fold_note
    assert spec.x.to_json()["scale"] == [0.5, 2.0] * 6 + [0.1] * 3  # packed: per value, in input.inputs order
    xm = _inputs(model, 2)
    raw = {"seq": xm[0] / np.float32([0.5, 2.0]) + np.float32([10.0, -1.0]), "static": xm[1] / np.float32(0.1)}
    want = np.asarray(model(xm))  # the output map stays the identity: the input map is not one scalar
    for backend in installed_default_backends():
        np.testing.assert_allclose(load(result.path, backend=backend).predict(raw), want, atol=1e-5, rtol=0)
    assert all(row.passed for row in validate(result.path))
    again = export_bundle(str(result.path), tmp_path / "again", formats=("numpy",))  # the re-export keeps the map
    assert again.manifest.spec.x.to_json() == spec.x.to_json()


def test_several_inputs_of_a_kind_not_carried_are_refused_naming_the_input():
    import keras

    from edgernn.export import UnsupportedLayerError

    L = keras.layers
    free, b = keras.Input((None, 2), name="free"), keras.Input((3,), name="b")
    with pytest.raises(UnsupportedLayerError, match="'free'.*every size fixed"):
        inspect_model(keras.Model([free, b], L.Concatenate()([L.GRU(2)(free), b])))
    ids = keras.Input((4,), dtype="int32", name="ids")
    seq = keras.Input((4, 2), name="seq")
    emb = L.Concatenate()([L.Embedding(9, 2)(ids), seq])
    with pytest.raises(UnsupportedLayerError, match="'ids'.*float32 inputs only"):
        inspect_model(keras.Model([ids, seq], L.GRU(2)(emb)))
    statics = [keras.Input((3,)), keras.Input((3,))]
    with pytest.raises(UnsupportedLayerError, match="none is a sequence"):
        inspect_model(keras.Model(statics, L.GRU(2)(L.RepeatVector(4)(L.Add()(statics)))))


@pytest.mark.parametrize(
    "inputs_value, expected",
    [
        ([{"name": "seq", "shape": [6, 2]}], "2 or more"),
        ([{"name": "seq", "shape": [6, 2]}, {"name": "seq", "shape": [3]}], "distinct names"),
        ([{"name": "seq", "shape": [6, 2]}, {"name": "static", "shape": [4]}], "hold 16 values a row"),
        ([{"name": "seq", "shape": [6, 2]}, {"name": "static", "shape": [3], "dtype": "int32"}], "float32 only"),
    ],
)
def test_malformed_inputs_are_refused(bundles, inputs_value, expected):
    _, result = bundles["sequence_and_static"]
    raw = json.loads((result.path / "manifest.json").read_text())
    raw["input"]["inputs"] = inputs_value
    with pytest.raises(ManifestError, match=expected):
        Manifest.parse(raw)
    raw = json.loads((result.path / "manifest.json").read_text())
    assert Manifest.parse(raw).to_json()["input"] == raw["input"]  # neighbour: the written block round-trips


def test_the_cli_takes_the_inputs_side_by_side_and_info_names_them(bundles, capsys):
    from edgernn.runtime.cli.main import main

    model, result = bundles["sequence_and_static"]
    xs = _inputs(model, 1)
    row = np.concatenate([x.reshape(-1) for x in xs])
    assert main(["predict", str(result.path), *map(str, row)]) == 0
    got = np.array(capsys.readouterr().out.split(), np.float32)
    np.testing.assert_allclose(got, np.asarray(model(xs)).reshape(-1), atol=1e-5, rtol=0)
    assert main(["predict", str(result.path), *map(str, row[:-1])]) == 2
    assert "the inputs side by side: seq 12, static 3" in capsys.readouterr().err
    assert main(["info", str(result.path)]) == 0
    assert "input    seq (batch, 6, 2), static (batch, 3)" in capsys.readouterr().out


def test_a_bundle_with_several_inputs_re_exports(bundles, tmp_path):
    _, result = bundles["two_sequences"]
    again = export_bundle(str(result.path), tmp_path / "again", formats=("onnx",))
    assert [p.name for p in again.manifest.spec.inputs] == ["accel", "gyro"]
    assert all(row.passed for row in validate(again.path))


def test_predict_reads_packed_rows_from_a_file_and_score_refuses_a_series(bundles, tmp_path, capsys):
    from edgernn.runtime.cli.main import main

    model, result = bundles["sequence_and_static"]
    xs = _inputs(model, 3)
    np.save(tmp_path / "windows.npy", np.concatenate([x.reshape(3, -1) for x in xs], axis=1))
    assert main(["predict", str(result.path), "--input", str(tmp_path / "windows.npy"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["outputs"]
    np.testing.assert_allclose(got, np.asarray(model(xs)), atol=1e-5, rtol=0)
    (tmp_path / "series.csv").write_text("a,b\n" + "\n".join(f"{i},{i}" for i in range(20)) + "\n")
    code = main(["score", str(result.path), "--data", str(tmp_path / "series.csv"), "--out", str(tmp_path / "o.csv")])
    assert code != 0 and "a series file feeds one" in capsys.readouterr().err
