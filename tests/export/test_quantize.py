"""Quantized variants (issue 3): sizes, errors on fresh inputs, every variant x backend, guards.

The acceptance model is an LSTM(64) on (24, 3), 17,473 parameters, trained for 3 epochs on the sine
task (about 2 s) rather than left at seeded weights: calibration then sees the activations of a
model that has learned something, and the Keras output range (about 3) is the signal's, not an
artefact of initialisation, so "error relative to the output range" means what it says.
"""

import json

import numpy as np
import pytest

from edgernn.export.formats import QUANTIZED  # the quantized variants (tflm: test_tflm.py)
from edgernn.export.formats.onnx.quantize import METHODS
from edgernn.runtime import ExportError, backends, load
from edgernn.runtime.cli import main
from edgernn.runtime.compare import TOLERANCES, Tolerance, compare, output_range, tolerance, tolerance_rule
from edgernn.runtime.validate import validate
from edgernn.runtime.vet.tflite_ops import custom_ops
from edgernn.train.signals import sine_windows

from conftest import QUANT_CELLS
from helpers import BACKEND_OF, artifact_json, covered, manifest_json

QUANT_PAIRS = [
    (fmt, v, b)
    for (fmt, v) in TOLERANCES
    if v not in ("float32", "tflm", "tflm-int8") and fmt in ("tflite", "onnx")  # tflm*: tests/export/test_tflm.py
    for b in backends.REGISTRY
    if fmt in backends.formats_of(b) and backends.runs_variant(b, v)
]
# Of the float32 .tflite bytes. Issue 18 moved every variant to the any-batch unrolled form: its 24 copies
# of the step's op tables (about 50 KB, names stripped) now outweigh the weights quantizing shrinks
# (int8: 17.5 KB of 70 KB); the batch-1 fused form was 16% for int8 but 12x slower (docs/quantization.md).
# int8 and dynamic are the hand-built WHILE loop (int8_loop.py): the step's records once, 24% and 21% (the
# issue's targets: 30% and 35%).
SIZE_LIMITS = {"dynamic": 0.35, "float16": 0.62, "int8": 0.30, "int16x8": 0.75, "int8-float-tail": 0.70}


def _manifest(path):
    return manifest_json(path)


def _entry(path, fmt, variant):
    return next(a for a in _manifest(path)["artifacts"] if a["format"] == fmt and a["variant"] == variant)


def test_acceptance_model_is_an_lstm64_on_24x3(lstm64):
    model, _ = lstm64
    assert tuple(model.inputs[0].shape) == (None, 24, 3)
    assert 16_000 <= model.count_params() <= 18_000


@pytest.mark.parametrize("variant", QUANTIZED)
def test_tflite_variant_size_ratio(quant_bundle, variant):
    ratio = _entry(quant_bundle, "tflite", variant)["bytes"] / _entry(quant_bundle, "tflite", "float32")["bytes"]
    assert ratio <= SIZE_LIMITS[variant], f"{variant}: {ratio:.1%} of float32"


def test_onnx_int8_is_smaller_than_float32(quant_bundle):
    ratio = _entry(quant_bundle, "onnx", "int8")["bytes"] / _entry(quant_bundle, "onnx", "float32")["bytes"]
    assert ratio <= 0.40, f"{ratio:.1%}"


@pytest.mark.parametrize("fmt,variant,backend", QUANT_PAIRS, ids=[f"{f}-{v}-{b}" for f, v, b in QUANT_PAIRS])
@pytest.mark.parametrize("batch", [1, 256])
def test_variant_matches_keras_on_fresh_inputs(quant_bundle, lstm64_fresh, fmt, variant, backend, batch):
    x, ref = lstm64_fresh[0][:batch], lstm64_fresh[1][:batch]
    predictor = load(quant_bundle, backend=backend, variant=variant)
    assert (predictor.artifact.format, predictor.variant) == (fmt, variant)
    tol = tolerance(fmt, variant, output_range(lstm64_fresh[1]))
    result = compare(ref, predictor.predict(x.astype(np.float64)), tol)  # callers pass raw floats, any dtype
    assert result, f"{fmt}/{variant}/{backend}: {result.describe()}"
    assert result.max_abs_error > 0  # it is not the float32 file under another name
    covered("lstm", fmt, variant, "model", backend)


@pytest.mark.parametrize("cell", QUANT_CELLS)
def test_gru_and_simple_rnn_variants_match_keras_on_fresh_windows(quant_bundles, cell):
    """Every variant export wrote, in its runtime, on windows neither calibration nor the held-out split saw.
    GRU's ONNX int8 included (the native GRU op's weights are quantized); SimpleRNN's is refused and says
    why: onnxruntime's quantizer leaves the RNN op's weights in float, so no candidate is under 60%."""
    model, bundle = quant_bundles[cell]
    x, _ = sine_windows(64, timesteps=8, features=2, seed=99)
    ref = np.asarray(model(x, training=False))
    man = manifest_json(bundle)
    written = [a for a in man["artifacts"] if a["variant"] != "float32"]
    tflite = [v for v in QUANTIZED if not (cell == "gru" and v == "int16x8")]  # GRU's int16x8: far off, refused
    want = {("tflite", v) for v in tflite} | ({("onnx", "int8")} if cell == "gru" else set())
    assert {(a["format"], a["variant"]) for a in written} == want
    for art in written:
        backend = BACKEND_OF[art["format"]]
        predictor = load(bundle, backend=backend, variant=art["variant"])
        assert (predictor.artifact.file, predictor.variant) == (art["file"], art["variant"])
        got = predictor.predict(x)
        result = compare(ref, got, tolerance(art["format"], art["variant"], output_range(ref)))
        assert result, f"{cell} {art['file']}: {result.describe()}"
        assert result.max_abs_error > 0  # not the float32 file under another name
        covered(cell, art["format"], art["variant"], "model", backend)
    if cell == "gru":
        (failed,) = man["quantization"]["failed"]
        assert (failed["format"], failed["variant"]) == ("tflite", "int16x8") and "beyond tolerance" in failed["reason"]
        assert artifact_json(bundle, "onnx", "int8")["graph_form"] == "native"
        return
    (failed,) = man["quantization"]["failed"]
    assert (failed["format"], failed["variant"]) == ("onnx", "int8")
    assert "over 60%" in failed["reason"] and "weight_qdq" in failed["reason"]


def test_table_holds_the_issue_figures():
    assert tolerance_rule("tflite", "dynamic") == Tolerance(of_range=0.01)
    assert tolerance_rule("tflite", "float16") == Tolerance(of_range=0.01)
    assert tolerance_rule("tflite", "int8") == tolerance_rule("onnx", "int8") == Tolerance(of_range=0.05)
    assert tolerance("tflite", "float32") == 1e-5
    assert tolerance("tflite", "int8", 2.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="output range"):
        tolerance("tflite", "int8")


def test_manifest_records_each_variant_measured_on_held_out_windows(quant_bundle):
    from edgernn.runtime.bundle import sha256_bytes

    man = _manifest(quant_bundle)
    q = man["quantization"]
    assert q["failed"] == [] and q["calibration"] == {"source": "representative", "windows": 1600}
    assert q["holdout"]["windows"] == 400
    floats = {a["format"]: a["bytes"] for a in man["artifacts"] if a["variant"] == "float32"}
    variants = [a for a in man["artifacts"] if a["variant"] != "float32"]
    assert {(a["format"], a["variant"]) for a in variants} == {*(("tflite", v) for v in QUANTIZED), ("onnx", "int8")}
    for a in variants:
        data = (quant_bundle / a["file"]).read_bytes()
        assert a["bytes"] == len(data) and a["sha256"] == sha256_bytes(data)
        assert a["size_ratio"] == pytest.approx(len(data) / floats[a["format"]])
        assert 0 < a["mean_abs_error"] <= a["max_abs_error"] <= a["tolerance"]
        assert a["tolerance"] == pytest.approx(tolerance(a["format"], a["variant"], a["output_range"]))
        assert a["range_relative_error"] == pytest.approx(a["max_abs_error"] / a["output_range"])
        assert a["checked_on"] == "holdout" and "output range" in a["tolerance_rule"]
    onnx8 = _entry(quant_bundle, "onnx", "int8")
    assert onnx8["quantization"]["method"] in METHODS
    assert {c["method"] for c in onnx8["quantization"]["candidates"]} == set(METHODS)


def test_files_are_builtin_only_and_int8_has_integer_io(quant_bundle):
    for variant in QUANTIZED:
        assert custom_ops((quant_bundle / f"model.{variant}.tflite").read_bytes()) == []
    for variant in QUANTIZED:  # any batch: the unrolled form, whose int8 kernels beat float32's; int8's loop
        entry = _entry(quant_bundle, "tflite", variant)
        form = "while" if variant in ("int8", "dynamic") else "unrolled"
        assert entry["graph_form"] == form and entry["batch"] == "dynamic" and not entry.get("reset_variables")
    int8 = load(quant_bundle, backend="litert", variant="int8").runner
    assert int8.input_details["dtype"] == np.int8 and int8.output_details["dtype"] == np.int8
    f16 = load(quant_bundle, backend="litert", variant="float16").runner
    assert f16.input_details["dtype"] == np.float32


def test_validate_checks_every_variant_on_every_backend(quant_bundle):
    rows = validate(quant_bundle)
    assert {(r.file, r.backend) for r in rows} >= {(f"model.{v}.tflite", "litert") for v in QUANTIZED}
    assert ("model.int8.onnx", "onnxruntime") in {(r.file, r.backend) for r in rows}
    assert all(r.passed for r in rows), [r for r in rows if not r.passed]
    only = validate(quant_bundle, variants=["int8"])
    assert {r.variant for r in only} == {"int8"}


def test_validate_fresh_checks_variants_on_new_windows_of_the_calibrated_distribution(quant_bundle):
    """--fresh N: float32 on N uniform windows, every variant on N blends of held-out windows (model.keras
    answers both); each row states its p99 beside the max."""
    from edgernn.export.reference import keras_reference
    from edgernn.runtime import Bundle

    bundle = Bundle.open(quant_bundle)
    rows = validate(bundle, fresh=64, reference=keras_reference(bundle))
    held = {(r.file, r.backend) for r in rows if r.reference == "fresh-holdout:64"}
    assert held >= {(f"model.{v}.tflite", "litert") for v in QUANTIZED} | {("model.int8.onnx", "onnxruntime")}
    assert ("model.tflite", "litert") in {(r.file, r.backend) for r in rows if r.reference == "fresh:64"}
    assert all(r.passed for r in rows), [r for r in rows if not r.passed]
    for r in rows:
        if r.reference.startswith(("holdout", "fresh-holdout")):
            assert r.samples in (64, 256) and 0 < r.p99_abs_error <= r.max_abs_error and r.p99_of_range < 0.05


def test_cli_info_json_predict_and_validate_take_variants(quant_bundle, lstm64_fresh, capsys):
    assert main(["info", str(quant_bundle), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for art in info["artifacts"]:
        assert {"file", "format", "variant", "bytes", "sha256", "max_abs_error"} <= set(art)
    window = lstm64_fresh[0][0]
    assert (
        main(["predict", str(quant_bundle), "--variant", "int8", "--backend", "litert", *map(str, window.reshape(-1))])
        == 0
    )
    printed = float(capsys.readouterr().out.strip())
    expected = float(load(quant_bundle, backend="litert", variant="int8").predict(window[None])[0, 0])
    assert printed == pytest.approx(expected, rel=1e-5)
    assert main(["validate", str(quant_bundle), "--variant", "float16"]) == 0
    assert "model.float16.tflite" in capsys.readouterr().out


def test_missing_variant_is_an_input_error_naming_what_the_bundle_has(zoo_bundles):
    from edgernn.runtime import InputError

    load(zoo_bundles["lstm-single"], variant="float32")  # neighbour
    with pytest.raises(InputError, match="variant 'int8'.*the bundle has"):
        load(zoo_bundles["lstm-single"], backend="litert", variant="int8")
    # backend="auto" too: the variant is missing, not a backend (was BackendUnavailableError, "pip install ...")
    have = r"variant 'int8'; the bundle has \(format, variant\) \[\('numpy', 'float32'\)"
    with pytest.raises(InputError, match=have):
        load(zoo_bundles["lstm-single"], variant="int8")


def test_int8_without_calibration_fails_alone_and_the_others_are_written(zoo_models, tmp_path):
    from edgernn.export import export_bundle

    path = export_bundle(zoo_models["lstm-single"], tmp_path / "b", formats=("tflite",), quantize="dynamic,int8").path
    q = _manifest(path)["quantization"]
    assert [(f["format"], f["variant"]) for f in q["failed"]] == [("tflite", "int8")]
    assert "calibration windows" in q["failed"][0]["reason"] and "--calibration" in q["failed"][0]["reason"]
    assert (path / "model.dynamic.tflite").exists() and not (path / "model.int8.tflite").exists()
    load(path, variant="dynamic").predict(np.zeros((2, 4, 1)))


def test_unknown_variant_is_refused_before_anything_is_written(zoo_models, tmp_path):
    from edgernn.export import export_bundle

    with pytest.raises(ExportError, match="unknown quantized variant.*int4"):
        export_bundle(zoo_models["lstm-single"], tmp_path / "b", quantize="dynamic,int4")
    assert not (tmp_path / "b").exists()


def test_cli_max_error_refuses_a_variant_with_its_measured_error(zoo_models, tmp_path, capsys):
    """--calibration is in raw units (here scale 0.1); --max-error 0 refuses float16, a loose bound keeps."""
    zoo_models["lstm-single"].save(tmp_path / "m.keras")
    raw = np.random.default_rng(0).uniform(0, 10, (20, 4, 1)).astype(np.float32)
    np.save(tmp_path / "cal.npy", raw)
    common = [
        str(tmp_path / "m.keras"),
        "--formats",
        "tflite",
        "--scale",
        "0.1",
        "--quantize",
        "float16",
        "--calibration",
        str(tmp_path / "cal.npy"),
    ]
    assert main(["export", *common, "--out", str(tmp_path / "loose"), "--max-error", "50%"]) == 0
    man = _manifest(tmp_path / "loose")
    assert man["quantization"]["calibration"] == {"source": "calibration (raw units)", "windows": 10}
    assert _entry(tmp_path / "loose", "tflite", "float16")["max_abs_error"] > 0
    capsys.readouterr()
    assert main(["export", *common, "--out", str(tmp_path / "strict"), "--max-error", "0"]) == 1
    err = capsys.readouterr().err
    assert "variant float16 (tflite) not written" in err and "measured max abs error" in err and "--max-error 0" in err
    assert not (tmp_path / "strict" / "model.float16.tflite").exists()
    assert (tmp_path / "strict" / "model.tflite").exists()


def test_a_converter_crash_costs_one_variant_not_the_exporter(zoo_models, tmp_path):
    """Calibrating the WHILE form segfaults TF 2.21's converter; in its child process that is an ExportError.

    The neighbour: the unrolled form of the same model converts to a working int8 file.
    """
    from edgernn.export import inspect_model
    from edgernn.export.formats import GraphForm
    from edgernn.export.formats.tflite.quantize import quantize_tflite

    model = zoo_models["lstm-single"]
    info = inspect_model(model)
    calib = np.random.default_rng(0).uniform(-1, 1, (16, 4, 1)).astype(np.float32)
    art = quantize_tflite(model, tmp_path / "ok.tflite", info, "int8", GraphForm("unrolled", "test"), calib)
    assert art.ops and custom_ops((tmp_path / "ok.tflite").read_bytes()) == []
    with pytest.raises(ExportError, match=r"crashed \(SIG"):
        quantize_tflite(model, tmp_path / "crash.tflite", info, "int8", GraphForm("while_batch1", "test"), calib)
    assert not (tmp_path / "crash.tflite").exists()


def test_int8_inputs_beyond_the_calibrated_range_saturate_instead_of_wrapping(quant_bundle, lstm64_fresh):
    predictor = load(quant_bundle, backend="litert", variant="int8")
    scale, zero = predictor.runner._quant_in
    edge = np.full((1, 24, 3), (127 - zero) * scale, dtype=np.float32)  # the largest representable input
    assert np.isfinite(predictor.predict(lstm64_fresh[0][:1])).all()  # neighbour: in-range input
    np.testing.assert_array_equal(predictor.predict(edge * 10), predictor.predict(edge))


def test_manifest_says_which_weights_each_tflite_variant_changed(quant_bundle, zoo_models, tmp_path):
    from edgernn.export import export_bundle

    weights = {v: _entry(quant_bundle, "tflite", v)["weights"] for v in QUANTIZED}
    assert weights["dynamic"].get("int8", 0) >= 1 and weights["float16"].get("float16", 0) >= 1
    assert weights["int8"].get("int8", 0) >= 1 and "float32" not in weights["int8"]
    # A tiny model's weights are all under the converter's 1024-element floor; ai-edge-quantizer has none.
    # (Stacked SimpleRNNs: their dynamic variant is the unrolled graph quantized; one small recurrent layer's
    # is the hand-built unrolled_lean graph, tests/export/test_lean_unrolled.py.)
    tiny = export_bundle(
        zoo_models["simple_rnn-stacked"], tmp_path / "tiny", formats=("tflite",), quantize="dynamic"
    ).path
    entry = _entry(tiny, "tflite", "dynamic")
    assert entry["weights"].get("int8", 0) >= 2 and entry["quantizer"] == "ai_edge_quantizer.dynamic_wi8_afp32"


def test_fused_lstm_state_is_reset_so_windows_are_independent(quant_bundle, lstm64, lstm64_fresh, tmp_path):
    """The fused form (now the fallback for sequences too long to unroll) keeps h and c in variable tensors;
    without the reset, row 2 would start from row 1's state."""
    from edgernn.export import inspect_model
    from edgernn.export.formats import GraphForm
    from edgernn.export.formats.tflite.quantize import quantize_tflite
    from edgernn.runtime import Bundle

    model, x = lstm64[0], lstm64_fresh[0][:6]
    spec = Bundle.open(quant_bundle).manifest.spec
    for variant in ("float16", "int8"):
        path = tmp_path / f"{variant}.tflite"
        entry = quantize_tflite(model, path, inspect_model(model), variant, GraphForm("fused_batch1", "t"), lstm64[1])
        assert entry.ops["UNIDIRECTIONAL_SEQUENCE_LSTM"] == 1 and entry.reset_variables and entry.batch == 1
        run = backends.open_window("litert", path.read_bytes(), entry, spec).run
        one_by_one = np.concatenate([run(x[i : i + 1]) for i in (5, 4, 3, 2, 1, 0)])[::-1]
        np.testing.assert_array_equal(run(x), one_by_one)
        tol = tolerance("tflite", variant, output_range(lstm64_fresh[1]))
        assert compare(np.asarray(model(x)), run(x), tol)


def test_the_any_batch_form_comes_first_and_fused_only_for_lstm_only_models(zoo_models):
    from edgernn.export import inspect_model
    from edgernn.export.formats.tflite.quantize import variant_forms

    lstm = inspect_model(zoo_models["lstm-stacked"])
    assert [f.name for f in variant_forms(lstm, "int8")] == ["unrolled", "fused_batch1"]
    assert [f.name for f in variant_forms(lstm, "dynamic")] == ["unrolled", "while_batch1"]
    for other in ("gru-stacked", "lstm-bidirectional"):
        assert [f.name for f in variant_forms(inspect_model(zoo_models[other]), "int8")] == ["unrolled"]
