"""The C format on the host: model.c through ctypes against Keras for every cell, stacked,
Bidirectional, go_backwards, every activation, sequence outputs and streaming; the int8-weight
variant; model_test.c failing on a mismatch; the c backend without a compiler."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgernn.export.formats.c import activations, convert
from edgernn.runtime import backends, load
from edgernn.runtime.backends.c import CLibrary
from edgernn.runtime.bundle import Bundle
from edgernn.runtime.compare import compare
from edgernn.runtime.errors import BackendUnavailableError, ExportError
from edgernn.runtime.numpy_layers import ACTIVATIONS
from edgernn.runtime.validate import validate

from conftest import BY_ID, OPTION_IDS, Lazy, random_windows
from helpers import artifact_json, covered

pytestmark = pytest.mark.skipif(not backends.available("c"), reason="no C compiler (cc, gcc, clang) on PATH")

SCALE, OFFSET = 0.5, 0.25  # raw = model / 0.5 + 0.25: the preprocessing compiled into the C is exercised
C_IDS = (
    "simple_rnn-stacked",
    "lstm-stacked",
    "gru-stacked",
    "gru-reset_before",
    "lstm-bidirectional",
    "gru-bidirectional-multi",
    "simple_rnn-multi",
    "lstm-stacked-seq",
    "gru-reset_before-seq",
    *OPTION_IDS,
)


@pytest.fixture(scope="session")
def c_bundles(zoo_models, tmp_path_factory):
    from edgernn.export import export_bundle

    root = tmp_path_factory.mktemp("c")
    return Lazy(
        C_IDS, lambda key: export_bundle(zoo_models[key], root / key, formats=("c",), scale=SCALE, offset=OFFSET).path
    )


def keras_raw(model, x_model: np.ndarray) -> np.ndarray:
    return np.asarray(model(x_model, training=False)) / SCALE + OFFSET


@pytest.mark.parametrize("zoo_id", C_IDS)
def test_c_predict_matches_keras_in_raw_units(zoo_models, c_bundles, zoo_id):
    model = zoo_models[zoo_id]
    x = random_windows(model, 5, seed=9)
    p = load(c_bundles[zoo_id], backend="c")
    got = p.predict(x / SCALE + OFFSET)
    result = compare(keras_raw(model, x), got, 1e-5 / SCALE)
    assert result, f"{zoo_id}: {result.describe()}"
    for cell in set(p.manifest.model.cells):
        covered(cell, "c", "float32", "model", "c")


@pytest.mark.parametrize("zoo_id", ["lstm-stacked", "gru-reset_before-seq", "simple_rnn-multi"])
def test_c_step_through_ten_windows_matches_keras_sequence(zoo_models, c_bundles, zoo_id):
    from edgernn.export.stream_proof import sequence_reference

    model, bundle = zoo_models[zoo_id], Bundle.open(c_bundles[zoo_id])
    entry = bundle.manifest.artifacts(formats=("c",))[0]
    assert entry.extra["can_step"] and entry.extra["verified_steps"] == 10 * BY_ID[zoo_id].timesteps
    lib = CLibrary(bundle.read(entry), entry, bundle.manifest.spec)
    xs = np.random.default_rng(4).uniform(-1, 1, (2, 3 * BY_ID[zoo_id].timesteps, BY_ID[zoo_id].features))
    xs = xs.astype(np.float32)
    ref = np.asarray(sequence_reference(model)(xs, training=False)) / SCALE + OFFSET
    assert compare(ref, lib.stream(xs / SCALE + OFFSET), 1e-5 / SCALE)


def test_window_only_models_have_no_step_api(c_bundles):
    header = (c_bundles["lstm-bidirectional"] / "model.h").read_text()
    assert "_CAN_STEP 0" in header and "_step(" not in header
    assert "_step(" in (c_bundles["lstm-stacked"] / "model.h").read_text()


def test_c_sources_are_listed_hashed_and_checked(c_bundles, tmp_path):
    entry = artifact_json(c_bundles["gru-stacked"], "c")
    assert [c["file"] for c in entry["companions"]] == ["model.h", "model_test.c"]
    assert entry["prefix"] == "gru_stacked" and entry["multiply_adds"] > 0
    copy = tmp_path / "b"
    shutil.copytree(c_bundles["gru-stacked"], copy)
    assert all(r.passed for r in validate(copy, ["c"]))
    (copy / "model_test.c").write_text((copy / "model_test.c").read_text() + "\n")
    with pytest.raises(Exception, match="model_test.c"):
        validate(copy, ["c"])


def test_model_test_program_fails_on_a_mismatch(c_bundles, tmp_path):
    bundle = c_bundles["gru-stacked"]
    assert "PASS" in convert.run_test_program(bundle, "model.c", "model.h", "model_test.c")
    for name in ("model.c", "model.h"):
        shutil.copy(bundle / name, tmp_path / name)
    text = (bundle / "model_test.c").read_text()
    head, _, tail = text.partition("static const float expected[N_WINDOWS][GRU_STACKED_OUT] = {\n  {")
    (tmp_path / "model_test.c").write_text(head + _ + "1000.0f + " + tail)
    with pytest.raises(ExportError, match="FAIL"):
        convert.run_test_program(tmp_path, "model.c", "model.h", "model_test.c")


def test_the_c_kernels_cover_every_activation_the_numpy_backend_knows():
    assert activations.KNOWN == set(ACTIVATIONS)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_int8_weight_variant_is_smaller_and_within_its_bound(cell, tmp_path):
    from edgernn.export import export_bundle
    from edgernn.train import build_model

    model = build_model(cell, (16,), timesteps=8, features=2, outputs=1, seed=5)
    result = export_bundle(model, tmp_path / cell, formats=("c",), quantize="dynamic")
    q = result.manifest.artifacts(variant="dynamic")[0]
    assert q.file == "model.dynamic.c" and q.max_abs_error <= q.tolerance
    assert "signed char" in (tmp_path / cell / "model.dynamic.c").read_text()
    x = np.random.default_rng(2).uniform(-1, 1, (6, 8, 2)).astype(np.float32)
    got = load(result.path, backend="c", variant="dynamic").predict(x)
    assert compare(np.asarray(model(x)), got, q.extra["golden_tolerance"])
    covered(cell, "c", "dynamic", "model", "c")


def test_without_a_compiler_the_backend_is_unavailable_and_says_why(c_bundles, monkeypatch, tmp_path):
    from edgernn.runtime.validate import not_run

    assert not_run(Bundle.open(c_bundles["gru-stacked"])) == []
    monkeypatch.setenv("PATH", str(tmp_path))
    notes = not_run(Bundle.open(c_bundles["gru-stacked"]))
    assert len(notes) == 1 and notes[0].startswith("model.c: skipped") and "C compiler" in notes[0]
    assert validate(c_bundles["gru-stacked"]) == []  # skipped, not failed
    monkeypatch.delenv("CC", raising=False)
    assert not backends.available("c") and "C compiler" in backends.install_hint("c")
    assert "c" not in backends.installed()
    with pytest.raises(BackendUnavailableError, match="C compiler"):
        load(c_bundles["gru-stacked"], backend="c")


def test_a_layer_without_a_c_kernel_is_refused_naming_it(tmp_path):
    import keras

    from edgernn.export import export_bundle

    model = keras.Sequential([keras.Input((4, 1)), keras.layers.GRU(3, activation="gelu"), keras.layers.Dense(1)])
    with pytest.raises(ExportError, match="C format has no kernel.*gelu"):
        export_bundle(model, tmp_path / "gelu", formats=("c",))
    assert not (tmp_path / "gelu").exists()


def test_streaming_export_with_c_writes_no_step_file_for_it(zoo_models, tmp_path):
    from edgernn.export import export_bundle

    result = export_bundle(zoo_models["lstm-window-multi"], tmp_path / "s", formats=("numpy", "c"), streaming=True)
    assert (result.path / "step.npz").exists() and not list(result.path.glob("step*.c"))
    assert artifact_json(result.path, "c")["verified_steps"] == 10 * BY_ID["lstm-window-multi"].timesteps


def test_validate_runs_the_shipped_test_program_and_reports_its_failure(c_bundles, tmp_path):
    import json

    from edgernn.runtime.bundle import sha256_bytes

    rows = [r for r in validate(c_bundles["gru-stacked"], ["c"]) if r.reference == "model_test.c"]
    assert len(rows) == 1 and rows[0].passed and rows[0].file == "model_test.c"
    copy = tmp_path / "b"
    shutil.copytree(c_bundles["gru-stacked"], copy)
    decl = "static const float tolerance[GRU_STACKED_OUT] = {"
    data = (copy / "model_test.c").read_text().replace(decl, decl + "0.0f * ", 1).encode()
    (copy / "model_test.c").write_bytes(data)
    manifest = json.loads((copy / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["format"] == "c")
    entry["companions"][1].update(bytes=len(data), sha256=sha256_bytes(data))  # a consistent but wrong test
    (copy / "manifest.json").write_text(json.dumps(manifest))
    rows = [r for r in validate(copy, ["c"]) if r.reference == "model_test.c"]
    assert len(rows) == 1 and not rows[0].passed and "FAIL" in rows[0].problem
