"""Quantized variants of every cell shape (issue 18): each written variant matches Keras in every backend
that runs it, or export refuses it with the converter's reason; never a crash. And the model that
once crashed export (LSTM(1) with large gate biases, --quantize int8) ends with an exit code.

The shapes beyond the single cells of test_quantize.py: GRU with reset_after=False, stacked,
bidirectional. Zoo weights (seeded, not fitted); calibration and fresh windows are drawn from one
distribution, uniform in [-1, 1).
"""

import subprocess
import sys

import numpy as np
import pytest

from edgernn.export import FORMATS
from edgernn.runtime import backends, load
from edgernn.runtime.compare import compare, output_range, tolerance

from helpers import covered, manifest_json

SHAPES = ("gru-reset_before", "lstm-stacked", "gru-stacked", "lstm-bidirectional", "simple_rnn-stacked")
FORMATS_QUANTIZED = ("tflite", "onnx")  # c's dynamic: tests/export/test_c_format.py; tflm: test_tflm.py
VARIANTS = tuple(  # the TFLM variants (batch 1, tflite-micro): tests/export/test_tflm.py
    dict.fromkeys(v for f in FORMATS_QUANTIZED for v in FORMATS[f].variants if v not in ("tflm", "tflm-int8"))
)


def _windows(model, n: int, seed: int) -> np.ndarray:
    shape = tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


@pytest.fixture(scope="session")
def matrix_bundles(zoo_models, tmp_path_factory):
    from edgernn.export import export_bundle

    root = tmp_path_factory.mktemp("qmatrix")
    out = {}
    for key in SHAPES:
        model = zoo_models[key]
        bundle = export_bundle(
            model, root / key, formats=FORMATS_QUANTIZED, representative=_windows(model, 320, 0), quantize=VARIANTS
        )
        out[key] = (model, bundle.path)
    return out


@pytest.mark.parametrize("key", SHAPES)
def test_every_variant_of_every_shape_is_proven_or_refused_with_a_reason(matrix_bundles, key):
    model, bundle = matrix_bundles[key]
    man = manifest_json(bundle)
    written = {(a["format"], a["variant"]): a for a in man["artifacts"] if a["variant"] != "float32"}
    failed = {(f["format"], f["variant"]): f["reason"] for f in man["quantization"]["failed"]}
    asked = {(f, v) for f in FORMATS_QUANTIZED for v in VARIANTS if v in FORMATS[f].variants}
    assert set(written) | set(failed) == asked and not set(written) & set(failed)
    assert all(len(reason) > 20 for reason in failed.values()), failed
    x = _windows(model, 128, 99)
    ref = np.asarray(model(x, training=False))
    for (fmt, variant), art in written.items():
        assert art["holdout_windows"] >= 64 and art["p99_abs_error"] <= art["max_abs_error"]
        runners = [b for b in backends.installed() if backends.runs(b, _entry(bundle, art["file"]))]
        assert runners, art["file"]
        for backend in runners:
            got = load(bundle, backend=backend, variant=variant).predict(x)
            result = compare(ref, got, tolerance(fmt, variant, max(output_range(ref), art["output_range"])))
            assert result, f"{key} {art['file']} on {backend}: {result.describe()}"


def _entry(bundle, file):
    from edgernn.runtime import Bundle

    return next(a for a in Bundle.open(bundle).manifest.entries if a.file == file)


def test_quantized_tflite_variants_take_a_free_batch(matrix_bundles):
    """The unrolled form for every variant of these short sequences: no batch-1 graph run row by row."""
    for key in SHAPES:
        arts = [a for a in manifest_json(matrix_bundles[key][1])["artifacts"] if a["format"] == "tflite"]
        forms = {a["variant"]: (a["graph_form"], a["batch"]) for a in arts if a["variant"] != "float32"}
        assert all(form == ("unrolled", "dynamic") for form in forms.values()), (key, forms)


def test_dynamic_quantizes_every_kernel_however_small(matrix_bundles):
    """Every weight here is under the converter's 1,024-element floor: ai-edge-quantizer quantizes them."""
    art = next(
        a for a in manifest_json(matrix_bundles["gru-reset_before"][1])["artifacts"] if a["variant"] == "dynamic"
    )
    assert art["weights"].get("int8", 0) >= 2 and art["quantizer"].startswith("ai_edge_quantizer")
    assert art["size_ratio"] < 0.9


def test_large_bias_lstm1_int8_export_ends_with_an_exit_code_and_a_float_bundle(tmp_path):
    """The model whose int8 file once segfaulted LiteRT's allocate_tensors inside export's proof (exit 139):
    the proof now runs first in a child, so export ends with 0 (int8 written) or 1 (refused, reason named)."""
    from edgernn.train import build_model

    model = build_model("lstm", 1, timesteps=8, features=1, seed=0)
    kernel, recurrent, bias = model.layers[0].get_weights()
    model.layers[0].set_weights([kernel, recurrent, np.full_like(bias, 30.0)])
    model.save(tmp_path / "big-bias.keras")
    calib = np.random.default_rng(0).uniform(-1, 1, (300, 8, 1)).astype(np.float32)
    np.save(tmp_path / "calib.npy", calib)
    cli = [sys.executable, "-c", "import sys; from edgernn.runtime.cli import main; sys.exit(main())"]
    args = ["export", str(tmp_path / "big-bias.keras"), "--out", str(tmp_path / "b"), "--quantize", "int8"]
    proc = subprocess.run([*cli, *args, "--calibration", str(tmp_path / "calib.npy")], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    man = manifest_json(tmp_path / "b")
    assert any(a["file"] == "model.tflite" for a in man["artifacts"])
    int8 = [a for a in man["artifacts"] if a["variant"] == "int8" and a["format"] == "tflite"]
    reasons = [f["reason"] for f in man["quantization"]["failed"] if f["variant"] == "int8"]
    assert int8 or (proc.returncode == 1 and reasons and all(reasons)), (proc.returncode, reasons)
    x = calib[:16]
    got = load(tmp_path / "b", backend="litert").predict(x)
    assert compare(np.asarray(model(x, training=False)), got, 1e-5)


def test_a_child_that_cannot_run_the_file_is_a_typed_refusal(tmp_path, zoo_bundles):
    """The child failing (here: an address-space limit too small to map LiteRT) is a typed refusal saying
    how it ended, not the exporter's death; the neighbour with room passes."""
    from edgernn.runtime import Bundle, ModelLoadError
    from edgernn.runtime.isolate import Limits
    from edgernn.runtime.isolate_file import run_isolated

    bundle = Bundle.open(zoo_bundles["lstm-single"])
    entry = next(a for a in bundle.manifest.entries if a.file == "model.tflite")
    content = (bundle.path / "model.tflite").read_bytes()
    x = np.zeros((2, 4, 1), np.float32)
    run_isolated("litert", content, entry, bundle.manifest.spec, x)
    with pytest.raises(
        ModelLoadError, match=r"model.tflite in litert.*(killed an isolated child|memory limit|cannot load)"
    ):
        run_isolated("litert", content, entry, bundle.manifest.spec, x, Limits(memory=64 << 20))


STREAM_CELLS = ("simple_rnn", "lstm", "gru")


@pytest.fixture(scope="session")
def stream_quant_bundles(quant_bundles, tmp_path_factory):
    """Per cell: (model, bundle) of a fitted 16-unit model on (8, 2) with float16 and int8 step models: the
    model of quant_bundles (fitted alike) where it has one, so nothing is trained twice."""
    from edgernn.export import ExportOptions, export_bundle
    from edgernn.train import build_model
    from edgernn.train.fit import Recipe, fit
    from edgernn.train.signals import sine_windows

    from conftest import QUANT_CELLS

    root, out = tmp_path_factory.mktemp("qstream"), {}
    x, y = sine_windows(1000, timesteps=8, features=2, seed=0)  # the windows quant_bundles fits on
    for cell in STREAM_CELLS:
        if cell in QUANT_CELLS:
            model = quant_bundles[cell][0]
        else:
            model = build_model(cell, (16,), timesteps=8, features=2, outputs=1, seed=5)
            fit(model, x, y, recipe=Recipe(cell=cell, epochs=3, batch_size=64, seed=0))
        options = ExportOptions(formats=("tflite",), representative=x, quantize=("float16", "int8"), streaming=True)
        out[cell] = (model, export_bundle(model, root / cell, options).path)
    return out


@pytest.mark.parametrize("cell", STREAM_CELLS)
def test_quantized_step_models_stream_like_keras_over_long_runs(stream_quant_bundles, cell):
    """step.float16/int8.tflite through Stream, over held-out windows laid end to end (the calibration's
    distribution), against Keras's sequence output; the manifest states 10 x T and 1,000-step errors.
    SimpleRNN's int8 step model drifts beyond 5% of the range and is refused with the figure."""
    from edgernn.export.stream_proof import sequence_reference
    from edgernn.runtime import Bundle

    model, path = stream_quant_bundles[cell]
    man = manifest_json(path)
    steps = {a["variant"]: a for a in man["artifacts"] if a["role"] == "step" and a["variant"] != "float32"}
    failed = {f["variant"]: f["reason"] for f in man["quantization"]["failed"]}
    want = {"float16"} if cell == "simple_rnn" else {"float16", "int8"}
    assert set(steps) == want, failed
    if cell == "simple_rnn":
        assert "beyond tolerance" in failed["int8 (step)"]
    held = Bundle.open(path).golden()["holdout_inputs"]
    xs = held[:40].reshape(1, 320, 2)  # 40 windows end to end
    ref = np.asarray(sequence_reference(model)(xs, training=False))
    for variant, art in steps.items():
        assert art["stream_error_10T"] <= art["tolerance"] and art["stream_error_1000_steps"] <= art["tolerance"]
        stream = load(path, backend="litert", variant=variant).stream()
        got = np.stack([stream.step(xs[:, t]) for t in range(xs.shape[1])], axis=1)
        result = compare(ref, got, art["tolerance"])
        assert result, f"{cell} {art['file']}: {result.describe()}"
        assert result.max_abs_error > 0
        covered(cell, "tflite", variant, "step", "litert")
    from edgernn.runtime.validate import validate

    rows = [r for r in validate(path) if r.file.startswith("step.") and r.variant != "float32"]
    assert {r.reference for r in rows} == {"holdout"} and all(r.passed for r in rows), rows
    assert {r.file for r in rows} == {a["file"] for a in steps.values()}


@pytest.mark.parametrize("key", ("lstm-stacked", "gru-stacked", "simple_rnn-stacked"))
def test_int8_float_tail_keeps_only_each_layers_last_step_in_float(matrix_bundles, key):
    """A stacked model's float tail is each layer's last step and the head: the walk from a layer's last
    step must not run through its sequence output (PACK) into every step of the layer above."""
    _, bundle = matrix_bundles[key]
    man = manifest_json(bundle)
    (art,) = [a for a in man["artifacts"] if a["variant"] == "int8-float-tail"] or [None]
    if art is None:
        pytest.skip(f"{key}: int8-float-tail not written: {man['quantization']['failed']}")
    timesteps = man["input"]["timesteps"]
    total = sum(art["ops"].values())
    assert 0 < art["float_ops"] and art["float_ops"] * (timesteps - 1) < total, (art["float_ops"], total, timesteps)
