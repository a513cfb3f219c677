"""The dynamic variant's hand-built `unrolled_lean` form (export/formats/tflite/lean_unrolled.py): small steps,
where a file is mostly records. Values against Keras on windows the export never saw, at batch 1 and 256.
The zoo's biases are Keras's zeros (the LSTM's forget bias 1), which would hide the first step's
zero-state shortcut (the GRU's recurrent bias folded into its input bias): GRUs with large random
biases are checked against the converter's own dynamic file, which quantizes the weights the same way."""

import numpy as np
import pytest

from edgernn.export import inspect_model
from edgernn.export.formats.tflite.lean_unrolled import LEAN_MAX_TIMESTEPS, lean_refusal
from edgernn.export.formats.tflite.quantize import variant_forms
from edgernn.runtime import load
from edgernn.runtime.compare import compare, output_range, tolerance

from helpers import artifact_json

CELLS = ("lstm-single", "gru-single", "simple_rnn-single")  # 6 units, T = 4, F = 1


@pytest.fixture(scope="session")
def lean_bundles(zoo_models, tmp_path_factory):
    from edgernn.export import export_bundle

    root = tmp_path_factory.mktemp("lean")
    rng = np.random.default_rng(11)
    made = {}
    for key in CELLS:
        windows = rng.uniform(-1, 1, (320, 4, 1)).astype(np.float32)
        made[key] = export_bundle(
            zoo_models[key], root / key, formats=("tflite",), quantize="dynamic", calibration=windows
        ).path
    return made


@pytest.mark.parametrize("key", CELLS)
def test_dynamic_of_a_small_step_is_lean_and_matches_keras_at_any_batch(key, zoo_models, lean_bundles):
    model, bundle = zoo_models[key], lean_bundles[key]
    entry = artifact_json(bundle, "tflite", "dynamic")
    assert entry["graph_form"] == "unrolled_lean" and entry["batch"] == "dynamic", entry.get("forms_refused")
    assert entry["forms_refused"][0].startswith("while: ")  # the loop's reason comes first, as before
    assert entry["weight_scales"] == "per channel" and "hand-built unrolled" in entry["quantizer"]
    x = np.random.default_rng(3).uniform(-1, 1, (256, 4, 1)).astype(np.float32)
    ref = np.asarray(model(x, training=False))
    predictor = load(bundle, backend="litert", variant="dynamic")
    for batch in (1, 256):
        got = predictor.predict(x[:batch])
        result = compare(ref[:batch], got, tolerance("tflite", "dynamic", output_range(ref)))
        assert result and result.max_abs_error > 0, result.describe()  # > 0: the weights are int8
    assert np.percentile(np.abs(predictor.predict(x) - ref), 99) / output_range(ref) <= 0.01  # issue 18's p99


def test_lean_ops_are_the_steps_alone_with_each_weight_stored_once(lean_bundles):
    """T = 4: the input projection at each step, the recurrent product from step 1 on, one head; no op that
    builds a zero state (SHAPE, FILL) and no loop."""
    lstm = artifact_json(lean_bundles["lstm-single"], "tflite", "dynamic")
    assert lstm["ops"] == {"ADD": 6, "FULLY_CONNECTED": 4 + 3 + 1, "LOGISTIC": 11, "MUL": 11, "SPLIT": 5, "TANH": 8}
    assert lstm["weights"] == {"float32": 2, "int32": 1, "int8": 3}  # 3 kernels, 2 biases, SPLIT's axis
    rnn = artifact_json(lean_bundles["simple_rnn-single"], "tflite", "dynamic")
    assert rnn["ops"] == {"ADD": 3, "FULLY_CONNECTED": 8, "SPLIT": 1, "TANH": 4}
    gru = artifact_json(lean_bundles["gru-single"], "tflite", "dynamic")
    assert gru["weights"]["int8"] == 3 and gru["ops"]["SUB"] == 4  # h - hh at every step


def test_lean_intermediate_tensors_carry_no_shape_and_the_file_no_names(lean_bundles):
    from tensorflow.lite.tools import flatbuffer_utils

    data = (lean_bundles["lstm-single"] / "model.dynamic.tflite").read_bytes()
    graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(data)).subgraphs[0]
    assert [list(graph.tensors[i].shapeSignature) for i in (*graph.inputs, *graph.outputs)] == [[-1, 4, 1], [-1, 1]]
    activations = [t for i, t in enumerate(graph.tensors) if t.buffer == 0 and i not in (*graph.inputs, *graph.outputs)]
    assert all(t.shapeSignature is None and not t.name for t in activations)
    assert sum(t.shape is None for t in activations) > len(activations) // 2  # FULLY_CONNECTED inputs keep theirs


def test_lean_is_for_small_steps_of_one_cell_and_says_why_not(zoo_models, lstm64):
    from dataclasses import replace

    small = inspect_model(zoo_models["lstm-single"])
    assert lean_refusal(small) == ""
    assert [f.name for f in variant_forms(small, "dynamic")] == ["unrolled_lean", "unrolled", "while_batch1"]
    assert [f.name for f in variant_forms(small, "int8")] == ["unrolled", "fused_batch1"]  # dynamic only
    big = inspect_model(lstm64[0])  # the loop's model: LSTM(64), 16,384 recurrent weights
    assert "the step is large (16,384 recurrent weights" in lean_refusal(big)
    assert [f.name for f in variant_forms(big, "dynamic")][0] == "while"
    assert f"> {LEAN_MAX_TIMESTEPS}" in lean_refusal(replace(small, timesteps=LEAN_MAX_TIMESTEPS + 1))
    why = {key: lean_refusal(inspect_model(zoo_models[key])) for key in ("lstm-stacked", "lstm-bidirectional")}
    assert "LSTM -> LSTM -> Dense" in why["lstm-stacked"] and "Bidirectional -> Dense" in why["lstm-bidirectional"]
    assert "reset_after=False" in lean_refusal(inspect_model(zoo_models["gru-reset_before"]))


@pytest.mark.parametrize("timesteps", (4, 1))  # T = 1: the first step is the whole graph
def test_a_gru_with_large_biases_answers_as_the_converters_dynamic_file(timesteps, tmp_path):
    """Both files hold the same per-channel int8 weights and compute in float: they agree to float rounding
    (1.9e-7 measured); without the fold of the recurrent bias into step 0 both cases fail."""
    from edgernn.export import export_bundle
    from edgernn.export.formats import GraphForm
    from edgernn.export.formats.tflite.quantize import quantize_tflite
    from edgernn.runtime import Bundle, backends
    from edgernn.train import build_model

    rng = np.random.default_rng(11)
    model = build_model("gru", 6, timesteps=timesteps, features=1, seed=2)
    biased = [rng.normal(0, 1.5, w.shape) if w.ndim == 1 or w.shape[0] == 2 else w for w in model.get_weights()]
    model.set_weights(biased)  # (2, 18): the GRU's input and recurrent biases; (1,): the head's
    spec = Bundle.open(export_bundle(model, tmp_path / "float", formats=("tflite",)).path).manifest.spec
    info, x = inspect_model(model), rng.uniform(-1, 1, (64, timesteps, 1)).astype(np.float32)
    got = {}
    for form in ("unrolled_lean", "unrolled"):
        path = tmp_path / f"{form}.tflite"
        entry = quantize_tflite(model, path, info, "dynamic", GraphForm(form, "test"))
        got[form] = backends.open_window("litert", path.read_bytes(), entry, spec).run(x)
    np.testing.assert_allclose(got["unrolled_lean"], got["unrolled"], atol=1e-5)
    ref = np.asarray(model(x, training=False))
    # int8 weights: off Keras, but still this model (its saturated output spans only ~0.06 at T = 4)
    assert 1e-5 < np.abs(got["unrolled"] - ref).max() < 0.25 * output_range(ref)
