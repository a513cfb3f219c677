"""The tflm variants: batch-1 float32 (and, for the three seed models, int8: tflm-int8) TFLite for
TensorFlow Lite Micro, run on the tflite-micro package's reference kernels (the tflm backend) and in
LiteRT, against Keras, for the three seed models and sunspots-gru (exported from
models/*/model.keras); model_data.cc and model_ops.h (model_int8_*)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgernn.export.formats.tflite import micro
from edgernn.runtime import backends, load
from edgernn.runtime.bundle import Bundle
from edgernn.runtime.compare import compare
from edgernn.runtime.errors import InputError

from conftest import MODELS, ROOT
from helpers import covered

pytestmark = pytest.mark.skipif(
    not backends.available("tflm"), reason="tflite-micro is not installed ('edgernn[tflm]')"
)
SHIPPED = ("seed-simplernn", "seed-lstm", "seed-gru", "sunspots-gru")


@pytest.fixture(scope="session")
def tflm_bundles(tmp_path_factory):
    from edgernn.export import export_bundle
    from edgernn.runtime.manifest import Manifest

    from conftest import Lazy

    root = tmp_path_factory.mktemp("tflm")

    def make(name):
        spec = Manifest.read(MODELS / name).spec
        pre = dict(scale=spec.x.scale.tolist(), offset=spec.x.offset.tolist())
        pre.update(output_scale=spec.y.scale.tolist(), output_offset=spec.y.offset.tolist())
        pre.update(quantize="tflm,tflm-int8", calibration=int8_windows(name)[0])
        return export_bundle(MODELS / name / "model.keras", root / name, formats=("tflite",), **pre).path

    return Lazy(SHIPPED, make)


@pytest.mark.parametrize("name", SHIPPED)
def test_tflm_variant_matches_keras_on_tflm_and_litert(tflm_bundles, name):
    import keras

    bundle = Bundle.open(tflm_bundles[name])
    entry = bundle.manifest.artifacts(variant="tflm")[0]
    assert entry.batch == 1 and entry.extra["arena_bytes"] > entry.extra["arena_min_bytes"] > 0
    assert set(entry.verified_with) == {"litert", "tflm"}
    model = keras.saving.load_model(bundle.path / "model.keras")
    x = np.random.default_rng(1).uniform(-1, 1, (5, bundle.manifest.spec.timesteps, 1)).astype(np.float32)
    ref = bundle.manifest.spec.y.to_raw(np.asarray(model(x)))
    for backend in ("tflm", "litert"):
        p = load(bundle.path, backend=backend, variant="tflm")
        got = p.predict(bundle.manifest.spec.x.to_raw(x))
        result = compare(ref, got, 1e-5 / float(np.abs(bundle.manifest.spec.y.scale).min()))
        assert result, f"{name} on {backend}: {result.describe()}"
        covered(bundle.manifest.model.cells[0], "tflite", "tflm", "model", backend)


def test_the_smallest_arena_form_is_kept_and_the_others_are_recorded(tflm_bundles):
    entry = Bundle.open(tflm_bundles["seed-lstm"]).manifest.artifacts(variant="tflm")[0]
    tried = entry.extra["tflm_forms"]
    assert set(tried) >= {"while_batch1", "unrolled_batch1", "fused_batch1"}
    arenas = {k: v["arena_min_bytes"] for k, v in tried.items() if "arena_min_bytes" in v}
    assert entry.graph_form == min(arenas, key=arenas.get) and entry.extra["arena_min_bytes"] == min(arenas.values())
    assert entry.reset_variables == (entry.graph_form == "fused_batch1")


def test_a_too_small_arena_is_refused_and_the_smallest_one_works(tflm_bundles, tmp_path):
    bundle = Bundle.open(tflm_bundles["seed-gru"])
    entry = bundle.manifest.artifacts(variant="tflm")[0]
    golden = bundle.golden()
    content = bundle.read(entry)
    (tmp_path / "m.tflite").write_bytes(content)
    spec, x, want, tol = bundle.manifest.spec, golden["inputs"], golden["outputs"], 1e-5
    if spec.folded:  # the file takes and returns raw units (issue 15's folding)
        x, want, tol = spec.x.to_raw(x), spec.y.to_raw(want), 1e-5 / float(np.min(np.abs(spec.y.scale)))
    np.save(tmp_path / "x.npy", x)
    smallest = entry.extra["arena_min_bytes"]
    assert micro.probe(tmp_path, smallest, want, tol) == ""
    assert micro.probe(tmp_path, smallest - micro.STEP, want, tol) != ""


def test_model_data_and_ops_header_match_the_file(tflm_bundles):
    path = tflm_bundles["seed-gru"]
    entry = Bundle.open(path).manifest.artifacts(variant="tflm")[0]
    data = (path / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char" in data
    values = bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", data))
    assert values == (path / entry.file).read_bytes()
    ops = (path / "model_ops.h").read_text()
    methods = re.findall(r"r\.(Add\w+)\(\)", ops)
    assert len(methods) == len(entry.ops) and f"MicroMutableOpResolver<{len(methods)}>" in ops
    assert {micro.resolver_method(op) for op in entry.ops} == set(methods)
    assert str(entry.extra["arena_bytes"]) in ops


def test_the_tflm_backend_runs_only_the_tflm_variant(tflm_bundles):
    with pytest.raises(InputError, match="tflm"):
        load(tflm_bundles["seed-gru"], backend="tflm")  # float32 is the free-batch file TFLM refuses
    assert micro.resolver_method("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"
    assert micro.resolver_method("FULLY_CONNECTED") == "AddFullyConnected"


def int8_windows(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, fresh) raw windows: the seed task's sample (two seeds), or sunspots' windows of
    the first 80% of the years and of the last 20%."""
    from edgernn.train.data import seed_task_sample

    if name.startswith("seed-"):
        return seed_task_sample(), seed_task_sample(64, seed=7)
    series = np.genfromtxt(ROOT / "data" / "sunspots.csv", delimiter=",", names=True)["SUNACTIVITY"]
    steps = Bundle.open(MODELS / name).manifest.spec.timesteps
    windows = np.lib.stride_tricks.sliding_window_view(series, steps)[:, :, None].astype(np.float32)
    cut = int(len(windows) * 0.8)
    return windows[:cut], windows[cut + steps :]


INT8 = ("seed-simplernn", "seed-lstm", "sunspots-gru")  # seed-gru's int8 is refused (below)


@pytest.mark.parametrize("name", INT8)
def test_tflm_int8_variant_is_full_integer_and_matches_keras_on_tflm_and_litert(tflm_bundles, name):
    """Fresh windows (raw units in and out): int8 input and output tensors, batch 1, an arena sized like the
    float variant's, held to the int8 rule."""
    import keras

    from edgernn.runtime.compare import output_range, tolerance

    bundle = Bundle.open(tflm_bundles[name])
    (entry,) = bundle.manifest.artifacts(variant="tflm-int8")
    assert entry.batch == 1 and entry.extra["arena_bytes"] > entry.extra["arena_min_bytes"] > 0
    assert set(entry.verified_with) == {"litert", "tflm"} and entry.max_abs_error <= entry.tolerance
    assert entry.extra["weights"].get("int8", 0) >= 2 and "float32" not in entry.extra["weights"]
    spec = bundle.manifest.spec
    model = keras.saving.load_model(bundle.path / "model.keras")
    raw = int8_windows(name)[1]
    ref = spec.y.to_raw(np.asarray(model(spec.x.to_model(raw))))
    tol = tolerance("tflite", "tflm-int8", output_range(ref))
    for backend in ("tflm", "litert"):
        p = load(bundle.path, backend=backend, variant="tflm-int8")
        details = p.runner.input_details if backend == "litert" else p.runner.interp.get_input_details(0)
        assert details["dtype"] == np.int8
        result = compare(ref, p.predict(raw), tol)
        assert result and result.max_abs_error > 0, f"{name} on {backend}: {result.describe()}"
        covered(bundle.manifest.model.cells[0], "tflite", "tflm-int8", "model", backend)
    data = (bundle.path / "model_int8_data.cc").read_text()
    assert bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", data)) == bundle.read(entry)
    ops = (bundle.path / "model_int8_ops.h").read_text()
    assert str(entry.extra["arena_bytes"]) in ops and "model.tflm-int8.tflite" in ops
    assert "_int8_model_data[]" in data


def test_tflm_int8_of_a_model_whose_outputs_barely_move_is_refused_with_the_figure(tflm_bundles):
    """seed-gru (the tutorial recipe) answers within 0.005 model units of one value on the whole sample:
    5% of that range is below int8's resolution, so export measures the file and leaves it out, saying so."""
    man = Bundle.open(tflm_bundles["seed-gru"]).manifest
    assert not man.artifacts(variant="tflm-int8") and man.artifacts(variant="tflm")
    (failed,) = [f for f in man.quantization.failed if f["variant"] == "tflm-int8"]
    assert "beyond tolerance" in failed["reason"] and not (tflm_bundles["seed-gru"] / "model_int8_data.cc").exists()
