"""The tflm variant: batch-1 float32 TFLite for TensorFlow Lite Micro, run on the tflite-micro
package's reference kernels (the tflm backend) and in LiteRT, against Keras, for the three seed
models and sunspots-gru (exported from models/*/model.keras); model_data.cc and model_ops.h."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgernn.export.formats.tflite import micro
from edgernn.runtime import backends, load
from edgernn.runtime.bundle import Bundle
from edgernn.runtime.compare import compare
from edgernn.runtime.errors import InputError

from conftest import MODELS
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
        return export_bundle(
            MODELS / name / "model.keras", root / name, formats=("tflite",), quantize="tflm", **pre
        ).path

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
