"""Streaming hardening: a step model that disagrees with its manifest, runtime failures, aliasing, odd input."""

import hashlib
import json
import shutil
import threading
import warnings

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import InputError, ManifestError, ModelRunError, load

from helpers import default_backends, manifest_json

BACKENDS = default_backends()


@pytest.fixture(scope="session")
def rnn_last(tmp_path_factory):
    """A model whose last layer is the recurrent one (no Dense head), identity output scaling, with step models."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.SimpleRNN(3, return_sequences=True)])
    return export_bundle(model, tmp_path_factory.mktemp("rnnlast") / "b", streaming=True).path


@pytest.fixture(scope="session")
def gru_bundle(stream_zoo):
    return stream_zoo["gru-stacked-window"][1]  # a stacked GRU (6, 5) with step models, from the one zoo


def _with_state_width(bundle, tmp_path, width):
    copy = shutil.copytree(bundle, tmp_path / "changed")
    manifest = manifest_json(copy)
    manifest["streaming"]["states"][1]["shape"] = [width]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_state_width_the_step_model_lacks_is_a_manifest_error_at_open(gru_bundle, tmp_path, backend):
    same = _with_state_width(gru_bundle, tmp_path / "same", 5)  # neighbour: the true width, rewritten, streams
    assert load(same, backend=backend).stream().step([0.5]).shape == (1,)
    changed = _with_state_width(gru_bundle, tmp_path, 7)
    predictor = load(changed, backend=backend)  # predict never reads the streaming block
    with pytest.raises(ManifestError, match=r"'state_1_h' is \(batch, 5\).*manifest says \(batch, 7\)"):
        predictor.stream()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_runtime_failure_while_stepping_is_a_model_run_error_and_the_model_recovers(gru_bundle, backend):
    stream = load(gru_bundle, backend=backend).stream()
    model, x = stream.model, np.full((1, 1), 0.5, np.float32)
    good = model.step_model_units(x, model.zeros(1))[0]  # neighbour
    wrong = [np.zeros((1, 6), np.float32), np.zeros((1, 9), np.float32)]  # state_1_h is 5 wide
    with pytest.raises(ModelRunError, match="step.*the runtime failed"):
        model.step_model_units(x, wrong)
    np.testing.assert_array_equal(model.step_model_units(x, model.zeros(1))[0], good)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_output_never_aliases_the_state(rnn_last, backend):
    stream = load(rnn_last, backend=backend).stream()
    assert stream.model.spec.y.identity
    y = stream.step([0.3, -0.2])
    before = stream.state
    np.testing.assert_allclose(y, before["state_0_h"][0], atol=1e-6)  # y_t is the new h here
    y[:] = 100.0
    assert all(np.array_equal(before[k], v) for k, v in stream.state.items())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_thread_does_not_disturb_streams_stepping_beside_it(gru_bundle, backend):
    predictor = load(gru_bundle, backend=backend)
    data = [np.random.default_rng(i).uniform(-1, 1, (200, 1)).astype(np.float32) for i in range(3)]
    alone = [np.stack([s.step(x) for x in xs]) for s, xs in ((predictor.stream(), xs) for xs in data)]
    streams = [predictor.stream() for _ in data]
    results, failures = [None] * len(data), []
    model, wrong = streams[0].model, [np.zeros((1, 6), np.float32), np.zeros((1, 9), np.float32)]

    def good(i):
        results[i] = np.stack([streams[i].step(x) for x in data[i]])

    def bad():
        for _ in range(200):
            try:
                # batch 2 resizes LiteRT's interpreter before the wrong state fails and it is rebuilt:
                # a thread still holding the old interpreter would then run a batch-2 graph
                model.step_model_units(np.zeros((2, 1), np.float32), wrong)
            except ModelRunError:
                failures.append(1)

    threads = [threading.Thread(target=good, args=(i,)) for i in range(len(data))] + [threading.Thread(target=bad)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failures) == 200
    for got, want in zip(results, alone):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "bad,expected",
    [
        (["1.5"], "dtype <U3"),
        (np.array(["2"]), "dtype <U1"),
        ([1 + 2j], "dtype complex"),
        ([object()], "dtype object"),
        ([[1.0], [2.0, 3.0]], "cannot turn into an array"),
        ([1e39], "NaN or inf"),
    ],
)
def test_step_refuses_what_predict_refuses_and_leaves_the_state(gru_bundle, bad, expected):
    predictor = load(gru_bundle, backend="numpy")
    stream = predictor.stream()
    assert stream.step([0.5]).shape == stream.step(np.array([1], np.int64)).shape == (1,)  # neighbours: numbers
    before = stream.state
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the float64 -> float32 overflow is refused, not warned about
        with pytest.raises(InputError, match=expected):
            stream.step(bad)
        with pytest.raises(InputError, match=expected):
            predictor.predict([[bad] * predictor.spec.timesteps])
    assert all(np.array_equal(before[k], v) for k, v in stream.state.items())


def test_state_keys_of_mixed_types_are_an_input_error(gru_bundle):
    stream = load(gru_bundle, backend="numpy").stream()
    stream.state = {"state_0_h": np.ones((1, 6)), "state_1_h": np.ones((1, 5))}  # neighbour
    with pytest.raises(InputError, match=r"keys \['state_0_h', 'state_1_h'\].*got \['state_0_h', 1\]"):
        stream.state = {"state_0_h": np.zeros((1, 6)), 1: np.zeros((1, 5))}
    assert stream.state["state_0_h"].min() == 1.0


def test_validate_runs_each_step_model_row_on_the_file_it_names(gru_bundle, tmp_path):
    from edgernn.runtime.validate import validate
    from edgernn.train import build_model

    other = export_bundle(
        build_model("gru", (6, 5), timesteps=4, seed=12), tmp_path / "other", formats=("onnx",), streaming=True
    ).path
    bundle = shutil.copytree(gru_bundle, tmp_path / "b")
    shutil.copy(other / "step.onnx", bundle / "step2.onnx")  # same shapes, other weights: must fail the golden
    manifest = manifest_json(bundle)
    entry = next(a for a in manifest["artifacts"] if a.get("role") == "step" and a["format"] == "onnx")
    content = (bundle / "step2.onnx").read_bytes()
    manifest["artifacts"].append(
        {**entry, "file": "step2.onnx", "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    )
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rows = {r.file: r for r in validate(bundle, backend_names=["onnxruntime"])}
    assert rows["step.onnx"].passed  # neighbour: the first step model matches its golden vectors
    assert not rows["step2.onnx"].passed and rows["step2.onnx"].max_abs_error > 1e-3
