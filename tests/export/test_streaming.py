"""Streaming: step models stepped in the shipped runtimes equal the full Keras model, step by step."""

import shutil
import threading

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import ExportError, InputError, IntegrityError, UnsupportedModelError, backends, load
from edgernn.runtime.validate import validate
from edgernn.runtime.vet.tflite_ops import custom_ops
from edgernn.train import SEED_SEQUENCE_RECIPE, build_model, train_recipe

from conftest import BY_ID, STREAM_IDS
from helpers import covered, default_backends, manifest_json

BACKENDS = default_backends()


def _per_step_reference(model, entry):
    """The same weights in a model with return_sequences=True and a free time axis (built here, not by export)."""
    ref = build_model(
        entry.cell,
        entry.units,
        timesteps=None,
        features=entry.features,
        outputs=entry.outputs,
        return_sequences=True,
        **dict(entry.kwargs),
    )
    ref.set_weights(model.get_weights())
    return ref


@pytest.fixture(scope="session")
def trained_sequence(tmp_path_factory):
    """The seed task in sequence form (the recipe), briefly trained and exported with step models."""
    from dataclasses import replace

    model, _ = train_recipe(replace(SEED_SEQUENCE_RECIPE, units=(5,), epochs=2))
    return model, export_bundle(model, tmp_path_factory.mktemp("seq") / "seed-seq", scale=0.1, streaming=True).path


def _step_all(stream, xs):
    """Feed (batch, N, features) one sample at a time -> (batch, N, outputs)."""
    return np.stack([stream.step(xs[:, t]) for t in range(xs.shape[1])], axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("repeats", [1, 10], ids=["N=T", "N=10T"])
@pytest.mark.parametrize("zoo_id", STREAM_IDS)
def test_stepping_equals_the_full_sequence_model(stream_zoo, zoo_id, repeats, backend):
    entry = BY_ID[zoo_id]
    model, bundle = stream_zoo[zoo_id]
    xs = (
        np.random.default_rng(repeats).uniform(-1, 1, (2, repeats * entry.timesteps, entry.features)).astype(np.float32)
    )
    expected = np.asarray(_per_step_reference(model, entry)(xs), dtype=np.float32)
    got = _step_all(load(bundle, backend=backend).stream(batch=2), xs)
    assert got.shape == expected.shape
    err = float(np.abs(got - expected).max())
    assert err <= 1e-5, f"{zoo_id} {backend} N={xs.shape[1]}: max abs error {err:.3g}"
    covered(entry.cell, backends.formats_of(backend)[0], "float32", "step", backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zoo_id", [i for i in STREAM_IDS if not BY_ID[i].sequence])
def test_window_model_T_steps_from_zero_equal_predict(stream_zoo, zoo_id, backend):
    model, bundle = stream_zoo[zoo_id]
    predictor = load(bundle, backend=backend)
    window = (
        np.random.default_rng(5)
        .uniform(-1, 1, (1, predictor.spec.timesteps, predictor.spec.features))
        .astype(np.float32)
    )
    stream = predictor.stream()
    last = [stream.step(sample) for sample in window[0]][-1]
    assert last.shape == (predictor.spec.outputs,)
    np.testing.assert_allclose(last, np.asarray(model(window))[0], atol=1e-5)
    np.testing.assert_allclose(last, predictor.predict(window)[0], atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_trained_sequence_recipe_streams_in_raw_units(trained_sequence, backend):
    model, bundle = trained_sequence
    assert tuple(model.outputs[0].shape) == (None, 4, 1)
    raw = np.array([[6.0], [7.0], [8.0], [9.0]], dtype=np.float32)
    expected = np.asarray(model(raw[None] * 0.1))[0] / 0.1  # per step, back to raw units
    stream = load(bundle, backend=backend).stream()
    got = np.stack([stream.step(v) for v in raw])
    np.testing.assert_allclose(got, expected, atol=1e-4)  # 1e-5 in model units, x10 in raw units
    np.testing.assert_allclose(load(bundle, backend=backend).predict(raw[None])[0], expected, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_restores_the_start_and_a_saved_state_resumes_exactly(stream_zoo, backend):
    _, bundle = stream_zoo["lstm-stacked-seq"]
    xs = np.random.default_rng(9).uniform(-1, 1, (12, 1)).astype(np.float32)
    stream = load(bundle, backend=backend).stream()
    first = [stream.step(x) for x in xs[:6]]
    saved = stream.state
    rest = [stream.step(x) for x in xs[6:]]
    assert set(saved) == {"state_0_h", "state_0_c", "state_1_h", "state_1_c"}
    assert saved["state_0_h"].shape == (1, 6) and saved["state_1_c"].shape == (1, 5)
    stream.state = saved
    np.testing.assert_array_equal(np.stack([stream.step(x) for x in xs[6:]]), np.stack(rest))
    stream.reset()
    assert all(not v.any() for v in stream.state.values())
    np.testing.assert_array_equal(np.stack([stream.step(x) for x in xs[:6]]), np.stack(first))
    resumed = load(bundle, backend=backend).stream()  # a state survives a new process/predictor as plain arrays
    resumed.state = {k: v.tolist() for k, v in saved.items()}
    np.testing.assert_array_equal(np.stack([resumed.step(x) for x in xs[6:]]), np.stack(rest))


def test_state_is_a_copy_both_ways(stream_zoo):
    stream = load(stream_zoo["gru-stacked-window"][1]).stream()
    stream.step([0.5])
    state = stream.state
    before = state["state_0_h"].copy()
    state["state_0_h"][:] = 99.0
    np.testing.assert_array_equal(stream.state["state_0_h"], before)
    mine = {k: v.copy() for k, v in stream.state.items()}
    stream.state = mine
    mine["state_0_h"][:] = 99.0
    np.testing.assert_array_equal(stream.state["state_0_h"], before)


@pytest.mark.parametrize(
    "bad,expected",
    [
        (np.zeros(2), r"\(3,\) or \(batch=1, features=3\).*got \(2,\)"),
        (np.zeros((2, 3)), r"batch=1.*got \(2, 3\)"),
        (np.zeros((1, 4, 3)), r"got \(1, 4, 3\)"),
        (["a", "b", "c"], "float32"),
        ([np.nan, 0, 0], "NaN"),
    ],
)
def test_wrong_sample_is_an_input_error_and_leaves_the_state(stream_zoo, bad, expected):
    stream = load(stream_zoo["lstm-window-multi"][1]).stream()
    assert stream.step([0.1, 0.2, 0.3]).shape == (2,)  # neighbour: (features,)
    assert stream.step([[0.1, 0.2, 0.3]]).shape == (1, 2)  # neighbour: (1, features)
    before = stream.state
    with pytest.raises(InputError, match=expected):
        stream.step(bad)
    assert all(np.array_equal(before[k], v) for k, v in stream.state.items())


@pytest.mark.parametrize(
    "bad,expected",
    [
        ({"state_0_h": np.zeros((1, 6))}, "keys"),
        ({"state_0_h": np.zeros((1, 6)), "state_1_h": np.zeros((1, 4))}, r"state_1_h.*\(1, 5\).*got \(1, 4\)"),
        ({"state_0_h": np.zeros(6), "state_1_h": np.zeros((1, 5))}, r"state_0_h.*\(1, 6\).*got \(6,\)"),
        ({"state_0_h": np.full((1, 6), np.inf), "state_1_h": np.zeros((1, 5))}, "NaN or inf"),
        ([np.zeros((1, 6))], "mapping"),
    ],
)
def test_wrong_state_is_an_input_error(stream_zoo, bad, expected):
    stream = load(stream_zoo["gru-stacked-window"][1]).stream()
    stream.state = {"state_0_h": np.ones((1, 6)), "state_1_h": np.ones((1, 5))}  # neighbour
    with pytest.raises(InputError, match=expected):
        stream.state = bad
    assert stream.state["state_0_h"].min() == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_streams_share_one_model_and_stay_independent(stream_zoo, backend):
    _, bundle = stream_zoo["simple_rnn-stacked-seq"]
    predictor = load(bundle, backend=backend)
    rng = np.random.default_rng(2)
    data = [rng.uniform(-1, 1, (40, 1)).astype(np.float32) for _ in range(4)]
    alone = [np.stack([s.step(x) for x in xs]) for s, xs in ((predictor.stream(), xs) for xs in data)]
    streams = [predictor.stream() for _ in data]
    assert all(s.model is streams[0].model for s in streams)
    results = [None] * len(data)

    def run(i):
        results[i] = np.stack([streams[i].step(x) for x in data[i]])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, alone):
        np.testing.assert_array_equal(got, want)
    batch = predictor.stream(batch=4)  # batch 4 after batch 1 on the same interpreter: resized, same answers
    np.testing.assert_allclose(_step_all(batch, np.stack(data)), np.stack(alone), atol=1e-6)


def test_bidirectional_cannot_stream_and_says_why(tmp_path):
    bi = build_model("lstm", 3, bidirectional=True, seed=1)
    export_bundle(bi, tmp_path / "plain", formats=("onnx",))  # neighbour: exports without --streaming
    with pytest.raises(ExportError, match="Bidirectional.*cannot stream.*without --streaming"):
        export_bundle(bi, tmp_path / "streaming", formats=("onnx",), streaming=True)
    assert not (tmp_path / "streaming").exists()


def test_bundle_without_step_models_says_how_to_get_them(stream_zoo, seed_bundle):
    load(stream_zoo["simple_rnn-window"][1]).stream()  # neighbour
    with pytest.raises(UnsupportedModelError, match="--streaming"):
        load(seed_bundle).stream()


def test_manifest_and_files_describe_the_step_models(stream_zoo):
    bundle = stream_zoo["lstm-stacked-seq"][1]
    manifest = manifest_json(bundle)
    block = manifest["streaming"]
    assert (block["input"], block["output"], block["initial_state"]) == ("x_t", "y_t", "zeros")
    assert [(s["name"], s["output"], s["shape"]) for s in block["states"]] == [
        ("state_0_h", "next_state_0_h", [6]),
        ("state_0_c", "next_state_0_c", [6]),
        ("state_1_h", "next_state_1_h", [5]),
        ("state_1_c", "next_state_1_c", [5]),
    ]
    steps = {a["format"]: a for a in manifest["artifacts"] if a.get("role") == "step"}
    assert set(steps) == {"tflite", "onnx", "numpy"}
    for art in steps.values():
        assert art["max_abs_error"] <= art["tolerance"] == 1e-5 and art["verified_steps"] == 40
    assert load(bundle, backend="litert").artifact.file == "model.tflite"  # predict never picks a step model
    content = (bundle / "step.tflite").read_bytes()
    assert custom_ops(content) == [] and "WHILE" not in steps["tflite"]["ops"]
    # the native step model: one LSTM op per layer at sequence length 1, the state as initial_h/initial_c
    assert steps["onnx"]["step_form"] == "native" and steps["onnx"]["ops"]["LSTM"] == 2
    assert not {"Loop", "Scan", "Sigmoid"} & set(steps["onnx"]["ops"]), steps["onnx"]["ops"]
    import onnx

    proto = onnx.load(bundle / "step.onnx")
    onnx.checker.check_model(proto, full_check=True)
    names = [s["name"] for s in block["states"]]
    assert sorted(i.name for i in proto.graph.input) == sorted(["x_t", *names])
    assert sorted(o.name for o in proto.graph.output) == sorted(["y_t", *("next_" + n for n in names)])
    assert all(v.type.tensor_type.shape.dim[0].dim_param == "batch" for v in (*proto.graph.input, *proto.graph.output))


def test_validate_checks_step_models_and_a_flipped_byte_is_caught(stream_zoo, tmp_path):
    bundle = shutil.copytree(stream_zoo["gru-reset_before-seq"][1], tmp_path / "b")
    rows = validate(bundle)
    assert {r.file for r in rows} >= {"step.tflite", "step.onnx"} and all(r.passed for r in rows)
    data = bytearray((bundle / "step.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "step.onnx").write_bytes(bytes(data))
    load(bundle, backend="litert").predict(np.zeros((1, 4, 1)))  # another format's step model is not read
    with pytest.raises(IntegrityError, match="step.onnx"):  # step models are read (and checked) at load
        load(bundle, backend="onnxruntime")
    with pytest.raises(IntegrityError, match="step.onnx"):
        validate(bundle)


def test_cli_predict_stream_prints_one_prediction_per_value(stream_zoo, capsys):
    from edgernn.runtime.cli import main

    bundle = stream_zoo["simple_rnn-window"][1]
    assert main(["predict", str(bundle), "--stream", "0.1", "0.2", "0.3", "0.4", "0.5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    stream = load(bundle).stream()
    expected = [float(stream.step([v])[0]) for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert [float(line) for line in lines] == pytest.approx(expected, rel=1e-5)
    multi = stream_zoo["lstm-window-multi"][1]
    assert main(["predict", str(multi), "--stream", "1", "2", "3", "4", "5", "6"]) == 0  # neighbour: 2 samples
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["predict", str(multi), "--stream", "1", "2"]) == 2  # usage
    assert "multiple of 3" in capsys.readouterr().err


def test_cli_export_streaming_writes_step_models_with_preprocessing_per_step(tmp_path, capsys):
    from edgernn.runtime.cli import main

    model = build_model("gru", 3, seed=2)
    model.save(tmp_path / "m.keras")
    args = [
        "export",
        str(tmp_path / "m.keras"),
        "--out",
        str(tmp_path / "b"),
        "--formats",
        "onnx",
        "--streaming",
        "--scale",
        "0.5",
        "--offset",
        "1",
    ]
    assert main(args) == 0
    assert "step.onnx" in capsys.readouterr().out
    raw = np.array([3.0, -1.0, 2.0, 5.0], dtype=np.float32)
    expected = np.asarray(model(((raw - 1.0) * 0.5).reshape(1, 4, 1)))[0] / 0.5 + 1.0
    stream = load(tmp_path / "b").stream()
    last = [stream.step([v]) for v in raw][-1]
    np.testing.assert_allclose(last, expected, atol=2e-5)  # 1e-5 in model units, / scale in raw units


def test_cli_trains_the_sequence_recipe_with_step_models(tmp_path, capsys):
    from edgernn.runtime.cli import main

    out = tmp_path / "seq"
    args = [
        "train",
        "--cell",
        "simple_rnn",
        "--units",
        "3",
        "--epochs",
        "1",
        "--data",
        "seed_sequence",
        "--streaming",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    manifest = manifest_json(out)
    assert manifest["output"]["sequence"] is True and manifest["training"]["data"] == "seed_sequence"
    predictor = load(out)
    stream = predictor.stream()
    per_step = np.stack([stream.step([v]) for v in (1.0, 2.0, 3.0, 4.0)])
    np.testing.assert_allclose(per_step, predictor.predict([[[1.0], [2.0], [3.0], [4.0]]])[0], atol=1e-4)
    assert main(["train", "--data", "nope", "--out", str(tmp_path / "x")]) == 2  # usage
    assert "seed_sequence" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["seed-simplernn", "seed-lstm", "seed-gru"])
def test_shipped_seed_bundles_stream(name):
    from conftest import MODELS

    predictor = load(MODELS / name)
    stream = predictor.stream()
    last = [stream.step([v]) for v in (6.0, 7.0, 8.0, 9.0)][-1]
    np.testing.assert_allclose(last, predictor.predict([[[6.0], [7.0], [8.0], [9.0]]])[0], atol=1e-4)


def _functional(timesteps, last_sequences):
    import keras

    inp = keras.Input((timesteps, 2))
    x = keras.layers.LSTM(4, return_sequences=True)(inp)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.GRU(3, reset_after=False, return_sequences=last_sequences)(x)
    return keras.Model(inp, keras.layers.Dense(2, activation="tanh")(x))


@pytest.fixture(scope="session")
def functional_stream(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    model = _functional(5, last_sequences=False)
    ref = _functional(None, last_sequences=True)
    ref.set_weights(model.get_weights())
    return ref, export_bundle(model, tmp_path_factory.mktemp("functional") / "b", streaming=True).path


@pytest.mark.parametrize("backend", BACKENDS)
def test_functional_mixed_cells_with_dropout_stream(functional_stream, backend):
    ref, bundle = functional_stream
    xs = np.random.default_rng(4).uniform(-1, 1, (2, 50, 2)).astype(np.float32)
    got = _step_all(load(bundle, backend=backend).stream(batch=2), xs)
    assert np.abs(got - np.asarray(ref(xs))).max() <= 1e-5
