"""The int8 variant's hand-built WHILE loop (export/formats/tflite/int8_loop.py), issue 18's size target.

On the acceptance LSTM(64) on (24, 3): one loop body instead of 24 copies of the step, a free batch,
values against Keras on windows neither calibration nor the held-out split saw. Models the loop does
not cover keep the unrolled int8 form and say why.
"""

import numpy as np
import pytest

from edgernn.export import inspect_model
from edgernn.export.formats.tflite.int8_loop import loop_refusal
from edgernn.export.formats.tflite.quantize import variant_forms
from edgernn.runtime import load
from edgernn.runtime.compare import compare, output_range, tolerance

from helpers import artifact_json

STEP_OPS = {"ADD": 3, "FULLY_CONNECTED": 1, "GATHER": 1, "LOGISTIC": 3, "MUL": 3, "SPLIT": 1, "TANH": 2}


def test_int8_lstm64_is_one_while_loop_under_30_percent_of_float32(quant_bundle):
    int8, f32 = artifact_json(quant_bundle, "tflite", "int8"), artifact_json(quant_bundle, "tflite", "float32")
    assert int8["graph_form"] == "while" and int8["batch"] == "dynamic"
    assert int8["ops"]["WHILE"] == 1 and "UNPACK" not in int8["ops"]  # the steps are not unrolled
    assert int8["ops_per_step"] == STEP_OPS  # ADD: the gates' sum, the cell state, the step counter
    assert int8["bytes"] / f32["bytes"] <= 0.30, f"{int8['bytes']} of {f32['bytes']} bytes"
    assert f32["ops"]["FULLY_CONNECTED"] == 49  # neighbour: the float file is unrolled (24 x 2 + the head)
    assert int8["weights"].get("int8", 0) >= 3 and "float32" not in int8["weights"]
    assert int8["weight_scales"] == "per channel" and "hand-built int8 loop" in int8["quantizer"]
    assert int8["p99_of_range"] <= 0.03 and int8["holdout_windows"] >= 256


def test_dynamic_lstm64_is_the_float_loop_with_int8_weights_under_35_percent(quant_bundle, lstm64_fresh):
    dyn, f32 = artifact_json(quant_bundle, "tflite", "dynamic"), artifact_json(quant_bundle, "tflite", "float32")
    assert dyn["graph_form"] == "while" and dyn["batch"] == "dynamic"
    assert dyn["ops_per_step"] == {**STEP_OPS, "FULLY_CONNECTED": 2}  # the step's input is projected in the loop
    assert dyn["ops"]["FULLY_CONNECTED"] == 1  # the head
    assert dyn["bytes"] / f32["bytes"] <= 0.35 and "float32 activations" in dyn["quantizer"]
    assert dyn["weights"]["int8"] == 3  # the input, recurrent and head kernels; biases stay float32
    x, ref = lstm64_fresh
    got = load(quant_bundle, backend="litert", variant="dynamic").predict(x)
    assert np.percentile(np.abs(got - ref), 99) / output_range(ref) <= 0.01  # the issue's dynamic target


@pytest.mark.parametrize("batch", [1, 7, 256])
def test_int8_loop_matches_keras_at_any_batch(quant_bundle, lstm64_fresh, batch):
    x, ref = lstm64_fresh[0][:batch], lstm64_fresh[1][:batch]
    predictor = load(quant_bundle, backend="litert", variant="int8")
    assert predictor.artifact.graph_form == "while"
    got = predictor.predict(x)
    span = output_range(lstm64_fresh[1])
    result = compare(ref, got, tolerance("tflite", "int8", span))
    assert result, result.describe()
    assert 0 < result.max_abs_error  # integer arithmetic, not the float file
    err = np.abs(got - ref)
    assert np.percentile(err, 99) / span <= 0.03  # the issue's int8 target, on windows export never saw


def test_int8_loop_rows_are_independent(quant_bundle, lstm64_fresh):
    """Each row runs from the zero state: the batch answer is the rows' answers one by one, bit for bit."""
    x = lstm64_fresh[0][:5]
    predictor = load(quant_bundle, backend="litert", variant="int8")
    one_by_one = np.concatenate([predictor.predict(x[i : i + 1]) for i in (4, 3, 2, 1, 0)])[::-1]
    np.testing.assert_array_equal(predictor.predict(x), one_by_one)


@pytest.fixture(scope="session")
def gru64(tmp_path_factory):
    """GRU(64) on (24, 3), fitted like the LSTM(64), with its int8 and dynamic variants (tflite only)."""
    from edgernn.export import export_bundle
    from edgernn.train import build_model
    from edgernn.train.fit import Recipe, fit
    from edgernn.train.signals import sine_windows

    x, y = sine_windows(2000, seed=0)
    model = build_model("gru", 64, timesteps=24, features=3, seed=0)
    fit(model, x, y, recipe=Recipe(cell="gru", epochs=3, batch_size=64, seed=0))
    out = tmp_path_factory.mktemp("gru64") / "gru64"
    return model, export_bundle(model, out, formats=("tflite",), representative=x, quantize="int8,dynamic").path


def test_gru64_takes_the_loop_and_matches_keras_at_any_batch(gru64):
    from edgernn.train.signals import sine_windows

    model, bundle = gru64
    f32 = artifact_json(bundle, "tflite", "float32")
    for variant in ("int8", "dynamic"):
        entry = artifact_json(bundle, "tflite", variant)
        assert entry["graph_form"] == "while" and entry["batch"] == "dynamic"
        assert entry["bytes"] / f32["bytes"] <= 0.30
    gru_step = {"ADD": 5, "FULLY_CONNECTED": 1, "GATHER": 1, "LOGISTIC": 2, "MUL": 2, "SPLIT": 2, "SUB": 1, "TANH": 1}
    assert artifact_json(bundle, "tflite", "int8")["ops_per_step"] == gru_step
    x, _ = sine_windows(256, seed=99)
    ref = np.asarray(model(x, training=False))
    for variant, target in (("int8", 0.03), ("dynamic", 0.01)):  # the issue's p99 targets
        predictor = load(bundle, backend="litert", variant=variant)
        for batch in (1, 256):
            got = predictor.predict(x[:batch])
            result = compare(ref[:batch], got, tolerance("tflite", variant, output_range(ref)))
            assert result and result.max_abs_error > 0, result.describe()
        assert np.percentile(np.abs(predictor.predict(x) - ref), 99) / output_range(ref) <= target


def test_other_models_keep_the_unrolled_form_saying_why_not_the_loop(quant_bundles, zoo_models):
    _, small_gru = quant_bundles["gru"]  # GRU(16): 768 recurrent weights
    entry = artifact_json(small_gru, "tflite", "int8")
    assert entry["graph_form"] == "unrolled" and entry["forms_refused"][0].startswith("while: the step is small")
    _, rnn = quant_bundles["simple_rnn"]
    entry = artifact_json(rnn, "tflite", "int8")
    assert entry["graph_form"] == "unrolled"
    assert entry["forms_refused"][0].startswith("while: SimpleRNN keeps the unrolled form")
    entry = artifact_json(rnn, "tflite", "dynamic")  # a small step's dynamic: the hand-built unrolled_lean form
    assert entry["graph_form"] == "unrolled_lean"
    assert entry["forms_refused"][0].startswith("while: SimpleRNN keeps the unrolled form")
    keys = ("lstm-stacked", "lstm-bidirectional", "gru-reset_before")
    why = {key: loop_refusal(inspect_model(zoo_models[key])) for key in keys}
    assert "LSTM -> LSTM -> Dense" in why["lstm-stacked"] and "Bidirectional -> Dense" in why["lstm-bidirectional"]
    assert "the step is small" in why["gru-reset_before"]


def test_the_loop_comes_first_for_int8_and_dynamic_and_needs_no_unrolling(lstm64, zoo_models):
    from dataclasses import replace

    big = inspect_model(lstm64[0])
    assert [f.name for f in variant_forms(big, "int8")] == ["while", "unrolled", "fused_batch1"]
    assert [f.name for f in variant_forms(big, "dynamic")] == ["while", "unrolled", "while_batch1"]
    assert [f.name for f in variant_forms(big, "float16")] == ["unrolled", "fused_batch1", "while_batch1"]
    long = replace(big, timesteps=300)  # past UNROLL_MAX_TIMESTEPS: the loop still takes a free batch
    assert [f.name for f in variant_forms(long, "int8")] == ["while", "fused_batch1"]
    small = inspect_model(zoo_models["lstm-single"])  # LSTM(6): the loop's fixed cost per step outweighs it
    assert [f.name for f in variant_forms(small, "int8")] == ["unrolled", "fused_batch1"]
    assert "the step is small (144 recurrent weights" in loop_refusal(small)


def test_a_long_lstm_exports_a_free_batch_int8_loop(tmp_path):
    """T = 300 is too long to unroll; int8 was batch-1 fused (which clips the cell state at 10) and is now
    the loop, proven against Keras on held-out windows at any batch."""
    from edgernn.export import export_bundle
    from edgernn.train import build_model
    from edgernn.train.fit import Recipe, fit

    rng = np.random.default_rng(3)
    t = np.arange(300) * 0.05
    x = np.stack([np.sin(t * (1 + f) + rng.uniform(0, 6, (400, 1))) for f in range(2)], axis=-1).astype(np.float32)
    y = x[:, -1, :1] * 0.5
    model = build_model("lstm", 48, timesteps=300, features=2, seed=1)
    fit(model, x, y, recipe=Recipe(cell="lstm", epochs=1, batch_size=64, seed=0))
    path = export_bundle(model, tmp_path / "long", formats=("tflite",), representative=x, quantize="int8").path
    entry = artifact_json(path, "tflite", "int8")
    assert entry["graph_form"] == "while" and entry["batch"] == "dynamic", entry.get("forms_refused")
    ref = np.asarray(model(x[:3], training=False))
    got = load(path, backend="litert", variant="int8").predict(x[:3])
    assert compare(ref, got, tolerance("tflite", "int8", output_range(np.asarray(model(x, training=False)))))


def test_a_loop_less_accurate_than_the_issue_asks_yields_to_the_next_form(lstm64, quant_bundle, tmp_path, monkeypatch):
    """The loop replaces the other int8 forms only at p99 <= LOOP_MAX_P99 of the output range (seed-lstm's
    loop: 4.7%, so it keeps fused_batch1); lowered below the LSTM(64)'s measured p99, the loop is refused
    with its figure and the unrolled form is written."""
    from edgernn.export import export_bundle
    from edgernn.export.formats.tflite import quantize

    loop = artifact_json(quant_bundle, "tflite", "int8")
    assert loop["graph_form"] == "while" and loop["p99_of_range"] <= quantize.LOOP_MAX_P99  # neighbour
    monkeypatch.setattr(quantize, "LOOP_MAX_P99", loop["p99_of_range"] / 2)
    model, x = lstm64
    path = export_bundle(model, tmp_path / "strict", formats=("tflite",), representative=x, quantize="int8").path
    entry = artifact_json(path, "tflite", "int8")
    assert entry["graph_form"] == "unrolled"
    assert (
        entry["forms_refused"][0].startswith("while: p99 error") and "of the output range" in entry["forms_refused"][0]
    )


def test_bench_table_names_each_variants_form(quant_bundle):
    from edgernn.runtime.cli.bench import bench
    from edgernn.runtime.cli.bench_report import table_rows

    result = bench(quant_bundle, ["litert"], ["float32", "int8"], cold_runs=1, max_seconds=0.05)
    names = [row[0] for row in table_rows(result)]
    assert "model.int8.tflite (int8: while)" in names and "model.tflite" in names
    int8 = next(r for r in result["rows"] if r["variant"] == "int8")
    assert int8["graph_form"] == "while" and int8["size_ratio"] <= 0.30


def test_a_zero_kernel_column_beside_a_bias_keeps_its_bias(lstm64, tmp_path):
    """Pruned input columns (all zero) have no weight scale of their own; their int32 biases must still fit,
    or the gate's bias is lost (a column scale of 1e-12 puts a bias of 1 at about 1e14 LSBs)."""
    import keras

    from edgernn.export import export_bundle

    trained, x = lstm64
    model = keras.models.clone_model(trained)  # a copy: the fixture's model is shared
    model.set_weights(trained.get_weights())
    kernel, rkernel, bias = model.layers[0].get_weights()
    kernel[:, 64:128], bias[64:128] = 0.0, 1.0  # the forget gate: no input weights, a real bias
    model.layers[0].set_weights([kernel, rkernel, bias])
    path = export_bundle(model, tmp_path / "pruned", formats=("tflite",), representative=x, quantize="int8").path
    assert artifact_json(path, "tflite", "int8")["graph_form"] == "while"
    ref = np.asarray(model(x[:64], training=False))
    got = load(path, backend="litert", variant="int8").predict(x[:64])
    assert compare(ref, got, tolerance("tflite", "int8", output_range(np.asarray(model(x, training=False)))))
