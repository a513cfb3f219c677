"""Re-exporting a bundle keeps what the source knew; a lost mapping fails validate; names = folders."""

import json

import numpy as np
import pytest

from edgernn.runtime import load
from edgernn.runtime.cli import main
from edgernn.runtime.validate import validate

from conftest import MODELS
from helpers import copy_bundle, edit_manifest, manifest_json

SUNSPOTS = MODELS / "sunspots-gru"  # trained by `edgernn train --data`: per-column mean/std mapping


@pytest.fixture(scope="module")
def reexported(tmp_path_factory):
    """`edgernn export models/sunspots-gru --out DIR --formats numpy` with no mapping flags."""
    out = tmp_path_factory.mktemp("re") / "sun-again"
    assert main(["export", str(SUNSPOTS), "--out", str(out), "--formats", "numpy"]) == 0
    return out


def _mapping(manifest: dict) -> dict:
    """The preprocessing maps, without issue 15's `folded`/`fold_note` (how the maps are carried)."""
    return {k: v for k, v in manifest["preprocessing"].items() if k not in ("folded", "fold_note")}


def test_reexport_keeps_preprocessing_columns_and_blocks(reexported):
    src, new = manifest_json(SUNSPOTS), manifest_json(reexported)
    assert _mapping(new) == _mapping(src)
    for key in ("training", "evaluation", "feature_names", "output_names"):
        assert new[key] == src[key], key
    assert new["name"] == "sun-again" and new["derived_from"]["name"] == "sunspots-gru"
    assert new["derived_from"]["model_keras_sha256"] == src["source"]["sha256"]


def test_reexport_answers_like_its_source_in_raw_units(reexported):
    x = np.asarray(json.loads((SUNSPOTS / "manifest.json").read_text())["evaluation"]["predictions"]["y_true"][:12])
    window = x.reshape(1, 12, 1).astype(np.float32)
    expected = load(SUNSPOTS, backend="numpy").predict(window)
    np.testing.assert_allclose(load(reexported, backend="numpy").predict(window), expected, rtol=1e-5)
    assert abs(float(expected[0, 0])) > 5  # raw sunspot numbers, not model units near 0


def test_reexport_with_a_different_mapping_is_refused_unless_overridden(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["export", str(SUNSPOTS), "--out", str(out), "--formats", "numpy", "--scale", "1"]) == 1
    assert "--override-preprocessing" in capsys.readouterr().err and not out.exists()
    argv = ["export", str(SUNSPOTS / "model.keras"), "--out", str(out), "--formats", "numpy", "--scale", "1"]
    assert main([*argv, "--override-preprocessing"]) == 0
    assert manifest_json(out)["preprocessing"]["input"]["scale"] == [1.0]


def test_the_same_mapping_given_explicitly_is_accepted(tmp_path):
    pre = manifest_json(SUNSPOTS)["preprocessing"]
    path = tmp_path / "pre.json"
    path.write_text(json.dumps({"preprocessing": pre}))
    out = tmp_path / "b"
    assert main(["export", str(SUNSPOTS), "--out", str(out), "--formats", "numpy", "--preprocessing", str(path)]) == 0
    assert _mapping(manifest_json(out)) == _mapping({"preprocessing": pre})


def test_output_mapping_flags_for_a_keras_file(tmp_path):
    import shutil

    out = tmp_path / "k"
    keras_file = shutil.copy(MODELS / "seed-gru" / "model.keras", tmp_path / "model.keras")  # outside a bundle
    flags = ["--scale", "0.1", "--output-scale", "0.5", "--output-offset", "2"]
    assert main(["export", str(keras_file), "--out", str(out), "--formats", "numpy", *flags]) == 0
    pre = manifest_json(out)["preprocessing"]
    assert pre["input"] == {"offset": [0.0], "scale": [0.1]} and pre["output"] == {"offset": [2.0], "scale": [0.5]}


def test_a_dropped_mapping_fails_validate(reexported, tmp_path, capsys):
    """The issue's bug: a manifest whose normalisation was lost passed validate with wrong answers."""
    assert all(r.passed for r in validate(reexported)) and any(
        r.reference == "golden-raw" for r in validate(reexported)
    )
    lost = copy_bundle(reexported, tmp_path / "lost")
    edit_manifest(lost, lambda m: m["preprocessing"].update(input={"offset": [0.0], "scale": [1.0]}))
    rows = validate(lost)
    # folded bundles (issue 15) carry the maps in their weights, so the model-unit golden pair goes
    # through the mapping too: either pair may be the one that catches it, one must
    assert any(r.reference in ("golden", "golden-raw") and not r.passed for r in rows)
    assert main(["validate", str(lost)]) == 1 and "FAIL" in capsys.readouterr().out


def test_the_name_is_the_folder_name_also_when_written_through_a_staging_folder(tmp_path):
    from edgernn.export import export_bundle
    from edgernn.export.source import bundle_name

    assert bundle_name(tmp_path / ".weather-lstm.tmp-4596-udtrv25x") == "weather-lstm"
    assert bundle_name(tmp_path / "..weather.tmp-1-a.tmp-2-b") == "weather"
    staged = tmp_path / ".my-gru.tmp-123-abcdef"
    result = export_bundle(MODELS / "seed-gru" / "model.keras", staged, formats=("numpy",), scale=0.1)
    assert result.manifest.name == "my-gru"


def test_export_quantize_draws_size_against_error(tmp_path):
    out = tmp_path / "sun-q"
    assert main(["export", str(SUNSPOTS), "--out", str(out), "--formats", "tflite", "--quantize", "dynamic"]) == 0
    png = tmp_path / "sun-q.quantize.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (out / png.name).exists()
    assert all(r.passed for r in validate(out))


def test_the_same_export_twice_writes_the_same_bytes(tmp_path):
    """`make models` on a clone: git status shows only the manifests' 'created' and the ONNX files (tf2onnx
    names and orders nodes differently from run to run, and so their sha256 in the manifest: docs/bundle.md).
    Two processes, as two `make models` runs are."""
    import hashlib
    import subprocess
    import sys

    outs = [tmp_path / run / "b" for run in ("one", "two")]
    for out in outs:
        cmd = [sys.executable, "-m", "edgernn.runtime.cli", "-q", "export", str(MODELS / "seed-simplernn")]
        done = subprocess.run([*cmd, "--out", str(out), "--streaming"], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == sorted(p.name for p in outs[1].iterdir()) and {"model.keras", "model.onnx"} <= set(files)
    for name in files:
        if name != "manifest.json" and not name.endswith(".onnx"):
            digest = [hashlib.sha256((out / name).read_bytes()).hexdigest() for out in outs]
            assert digest[0] == digest[1], name
    ma, mb = manifest_json(outs[0]), manifest_json(outs[1])
    assert {k for k in ma if ma[k] != mb[k]} <= {"created", "artifacts"}
    for a, b in zip(ma["artifacts"], mb["artifacts"]):
        assert a == b or a["format"] == "onnx", a["file"]


def test_reexport_calibrates_on_the_windows_the_source_kept():
    """int8 of a re-export needs calibration windows; the source's golden and held-out inputs serve."""
    from edgernn.export import ExportOptions
    from edgernn.export.bundle import model_spec
    from edgernn.export.source import resolve

    options = resolve(SUNSPOTS, ExportOptions(), model_spec)
    assert options.representative.shape[1:] == (12, 1) and len(options.representative) >= 8
    given = ExportOptions(representative=np.zeros((2, 12, 1), np.float32))
    assert resolve(SUNSPOTS, given, model_spec).representative.shape == (2, 12, 1)  # what the caller gave wins
