"""Issue 13 item 3 (initial_state): `LSTM(..)(x, initial_state=[h0, c0])` with h0, c0 as Inputs (GRU and
SimpleRNN: one state) exports in every format that can carry it (TFLite's unrolled clone, tf2onnx's forms,
numpy's kernels started from the given state; C refuses), and its step models stream from the given state:
`stream(initial_state={"h0": .., "c0": ..})` equals Keras on the same state, on every backend."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import load
from edgernn.runtime.errors import ExportError, InputError, ManifestError
from edgernn.runtime.manifest import Manifest
from edgernn.runtime.validate import validate

from helpers import installed_default_backends

STEPS = 6


def _started(cell: str):
    """x -> cell(return_sequences) started from Inputs -> Dense, per step."""
    import keras

    keras.utils.set_random_seed({"lstm": 31, "gru": 32, "simple_rnn": 33}[cell])
    L = keras.layers
    layer = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[cell](4, return_sequences=True)
    x = keras.Input((STEPS, 2), name="x")
    states = [keras.Input((4,), name=n) for n in (("h0", "c0") if cell == "lstm" else ("h0",))]
    return keras.Model([x, *states], L.Dense(1)(layer(x, initial_state=states)))


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    root = tmp_path_factory.mktemp("started")
    made = {}
    for cell in ("lstm", "gru"):
        model = _started(cell)
        made[cell] = model, export_bundle(model, root / cell, formats=("tflite", "onnx", "numpy", "c"), streaming=True)
    return made


def _feed(model, batch: int, seed: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {t.name: rng.uniform(-1, 1, (batch, *t.shape[1:])).astype(np.float32) for t in model.inputs}


def test_every_format_but_c_carries_the_initial_state_and_streams(started):
    _, result = started["lstm"]
    have = {(a.format, a.role) for a in result.manifest.entries}
    assert have == {(f, r) for f in ("tflite", "onnx", "numpy") for r in ("model", "step")}
    assert [(r.format, r.role) for r in result.manifest.refusals] == [("c", "model")]
    block = json.loads((result.path / "manifest.json").read_text())["streaming"]
    assert [(s["name"], s["initial"]) for s in block["states"]] == [("state_0_h", "h0"), ("state_0_c", "c0")]
    assert block["initial_state"] == "inputs"
    onnx_model, onnx_step = (result.manifest.artifacts(role=r, formats=["onnx"])[0] for r in ("model", "step"))
    assert onnx_model.graph_form == "native" and onnx_step.extra["step_form"] == "native"


def test_the_native_onnx_op_takes_initial_h_and_c_from_the_graph_inputs(started):
    import onnx

    _, result = started["lstm"]
    graph = onnx.load(str(result.path / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["x", "h0", "c0"]
    (lstm,) = [n for n in graph.node if n.op_type == "LSTM"]
    feeds = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Unsqueeze"}
    assert [feeds[name] for name in lstm.input[5:7]] == ["h0", "c0"]  # initial_h, initial_c


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("backend", installed_default_backends())
def test_predict_and_stream_start_from_the_given_state(started, cell, backend):
    model, result = started[cell]
    feed = _feed(model, 3)
    want = np.asarray(model(list(feed.values()), training=False))
    predictor = load(result.path, backend=backend)
    np.testing.assert_allclose(predictor.predict(feed), want, atol=1e-5, rtol=0)
    states = {n: v for n, v in feed.items() if n != "x"}
    stream = predictor.stream(batch=3, initial_state=states)
    got = np.stack([stream.step(feed["x"][:, t]) for t in range(STEPS)], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    stream.reset()  # back to the given state, not zeros
    np.testing.assert_allclose(stream.step(feed["x"][:, 0]), want[:, 0], atol=1e-5, rtol=0)
    zero = predictor.stream(batch=3)  # without initial_state: zeros, as the message of the docs says
    zeros = {n: np.zeros_like(v) for n, v in states.items()}
    np.testing.assert_allclose(
        zero.step(feed["x"][:, 0]), np.asarray(model([feed["x"], *zeros.values()]))[:, 0], atol=1e-5, rtol=0
    )


def test_simple_rnn_started_from_an_input_streams_at_batch_one(tmp_path):
    model = _started("simple_rnn")
    result = export_bundle(model, tmp_path / "srnn", formats=("numpy",), streaming=True)
    feed = _feed(model, 1)
    want = np.asarray(model(list(feed.values())))[0]
    stream = load(result.path).stream(initial_state={"h0": feed["h0"][0]})  # (size,) at batch 1
    np.testing.assert_allclose([stream.step(feed["x"][0, t]) for t in range(STEPS)], want, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"h0": np.zeros((2, 4))}, r"keys \['c0', 'h0'\]"),
        ({"h0": np.zeros((2, 4)), "c0": np.zeros((2, 3))}, r"'c0' must be finite, shaped \(2, 4\)"),
        ({"h0": np.zeros((2, 4)), "c0": np.full((2, 4), np.nan)}, "must be finite"),
        ([np.zeros((2, 4))] * 2, "must be a mapping"),
    ],
)
def test_a_bad_initial_state_is_an_input_error_naming_the_inputs(started, given, expected):
    _, result = started["lstm"]
    with pytest.raises(InputError, match=expected):
        load(result.path, backend="numpy").stream(batch=2, initial_state=given)


def test_a_model_without_initial_state_inputs_refuses_one(stream_zoo):
    _, bundle = stream_zoo["lstm-stacked-seq"]
    with pytest.raises(InputError, match="starts every state from zeros"):
        load(bundle, backend="numpy").stream(initial_state={"h0": np.zeros(6)})


def test_validate_steps_the_golden_windows_from_their_initial_states(started):
    _, result = started["gru"]
    rows = validate(result.path)
    assert {row.file for row in rows} >= {"step.tflite", "step.onnx", "step.npz"} and all(row.passed for row in rows)


def test_state_inputs_that_are_not_a_chain_refuse_streaming_with_the_reason(tmp_path):
    import keras

    L = keras.layers
    a, b = keras.Input((3, 5)), keras.Input((3, 5))
    passing = keras.Model([a, b], L.GRU(2, return_sequences=True)(b, initial_state=L.GRU(2, return_state=True)(a)[1:]))
    with pytest.raises(ExportError, match="only its recurrent layers' initial_state"):
        export_bundle(passing, tmp_path / "x", formats=("numpy",), streaming=True)
    export_bundle(passing, tmp_path / "y", formats=("numpy",))  # neighbour: the window model exports


def test_a_state_naming_an_unknown_input_is_a_manifest_error(started):
    _, result = started["lstm"]
    raw = json.loads((result.path / "manifest.json").read_text())
    raw["streaming"]["states"][1]["initial"] = "nope"
    bundle_manifest = Manifest.parse(raw)
    from edgernn.runtime.stream import sample_width

    with pytest.raises(ManifestError, match="do not leave one sequence input"):
        sample_width(bundle_manifest.spec, bundle_manifest.streaming, "step.npz")


def test_bench_and_the_cli_stream_run_an_initial_state_bundle_from_zeros(started, capsys):
    from edgernn.runtime import Bundle
    from edgernn.runtime.cli.bench import bench_step
    from edgernn.runtime.cli.main import main

    model, result = started["gru"]
    bundle = Bundle.open(result.path)
    (step,) = bundle.manifest.artifacts(role="step", formats=["numpy"])
    row = bench_step(bundle, step, "numpy", max_seconds=0.05)
    assert row["file"] == "step.npz" and row["samples"] > 0
    x = np.linspace(-1, 1, STEPS * 2, dtype=np.float32)
    assert main(["predict", str(result.path), "--backend", "numpy", "--stream", *map(str, x)]) == 0
    got = np.array(capsys.readouterr().out.split(), np.float32)
    want = np.asarray(model([x.reshape(1, STEPS, 2), np.zeros((1, 4), np.float32)])).reshape(-1)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert main(["info", str(result.path)]) == 0
    assert "initial state from inputs h0 (stream(initial_state=...)), else zeros" in capsys.readouterr().out


def test_a_decoder_started_from_an_input_returning_its_state_gives_a_dict(tmp_path):
    """Several inputs and several outputs at once (a seq2seq decoder step: initial_state in, return_state out)."""
    import keras

    keras.utils.set_random_seed(34)
    L = keras.layers
    x, h0 = keras.Input((5, 2), name="x"), keras.Input((3,), name="h0")
    seq, state = L.GRU(3, return_sequences=True, return_state=True, name="dec")(x, initial_state=h0)
    model = keras.Model([x, h0], [L.Dense(1, name="y")(seq), state])
    result = export_bundle(model, tmp_path / "dec", formats=("tflite", "onnx"))
    feed = _feed(model, 2)
    want = [np.asarray(t) for t in model(list(feed.values()))]
    for backend in [b for b in installed_default_backends() if b != "numpy"]:  # numpy refuses state outputs
        got = load(result.path, backend=backend).predict(feed)
        assert list(got) == ["y", "dec"]
        for name, w in zip(got, want):
            np.testing.assert_allclose(got[name], w, atol=1e-5, rtol=0)


def test_step_models_of_several_inputs_refuse_an_input_map_with_the_reason(tmp_path):
    with pytest.raises(ExportError, match="--streaming: the model has 2 inputs .* and an input map"):
        export_bundle(_started("gru"), tmp_path / "x", formats=("numpy",), streaming=True, scale={"x": 2.0})
    mapped = export_bundle(_started("gru"), tmp_path / "y", formats=("numpy",), scale={"x": 2.0})  # neighbour
    assert mapped.manifest.streaming is None and not mapped.manifest.spec.x.identity
