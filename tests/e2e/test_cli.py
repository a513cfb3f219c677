"""The CLI is a thin layer over the library: same numbers, documented exit codes."""

import json

import numpy as np
import pytest

from edgernn.runtime import load
from edgernn.runtime.cli import main

from conftest import MODELS, installed_backends


def test_predict_prints_the_library_prediction_in_raw_units(capsys):
    bundle = MODELS / "seed-simplernn"
    assert main(["predict", str(bundle), "6", "7", "8", "9"]) == 0
    printed = float(capsys.readouterr().out.strip())
    expected = float(load(bundle).predict([[[6], [7], [8], [9]]])[0, 0])
    assert printed == pytest.approx(expected, rel=1e-5)


def test_predict_with_wrong_value_count_explains(capsys):
    assert main(["predict", str(MODELS / "seed-lstm"), "6", "7", "8"]) == 2  # usage: docs/cli.md
    assert "expected 4 values" in capsys.readouterr().err


def test_info_json_lists_artifacts(capsys):
    assert main(["info", str(MODELS / "seed-gru"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {a["format"] for a in info["artifacts"]} == {"tflite", "onnx", "numpy"}


def test_info_prints_the_optional_blocks(capsys):
    assert main(["info", str(MODELS / "seed-lstm")]) == 0
    out = capsys.readouterr().out
    assert "lstm, 491 trainable params" in out
    assert "step(x_t, state_0_h(10,), state_0_c(10,))" in out
    assert "calibrated on 5 windows (representative), measured on 1 held-out; not written: int8 (onnx)" in out


def test_info_prints_a_question_mark_for_odd_optional_blocks(capsys, tmp_path):
    """The neighbour above with each optional block stripped or malformed: '?' instead of a traceback."""
    from helpers import copy_bundle, edit_manifest

    def oddify(m):
        del m["model"]
        m["streaming"]["states"] = [{"name": "h"}, {}]
        m["quantization"] = {"failed": [{"variant": "int8"}, "x"], "calibration": 5}
        m["evaluation"] = {"rows": [{"source": "keras"}]}

    bundle = copy_bundle(MODELS / "seed-lstm", tmp_path / "b")
    edit_manifest(bundle, oddify)
    assert main(["info", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "model    ?, ? trainable params" in out
    assert "stream   ? (the manifest's streaming block is malformed" in out
    assert "calibrated on ? windows (?), measured on ? held-out; not written: int8 (?), ? (?)" in out
    assert "evaluation ? (the manifest's evaluation block is malformed" in out


def test_validate_exit_codes(capsys, tmp_path):
    assert main(["validate", str(MODELS / "seed-gru")]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["validate", str(tmp_path)]) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--cell", "gru", "--units", "3", "--epochs", "1"],
        ["demo", "--epochs", "1", "--quantize", "none"],
        ["export", str(MODELS / "seed-gru" / "model.keras")],
    ],
)
def test_tensorflow_commands_without_tensorflow_name_the_train_extra(argv, tmp_path):
    """A child where tensorflow/keras cannot be imported; export is the neighbour that already did this."""
    import subprocess
    import sys

    wrapper = (
        "import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None\n"
        "from edgernn.runtime.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *argv, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stderr  # 4: a missing extra
    assert f"edgernn {argv[0]}: MissingExtraError: " in done.stderr
    assert "pip install 'edgernn[train]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_train_then_export_through_the_cli(tmp_path, capsys):
    out = tmp_path / "trained"
    assert main(["train", "--cell", "gru", "--units", "3", "--epochs", "2", "--out", str(out)]) == 0
    again = tmp_path / "again"
    assert main(["export", str(out / "model.keras"), "--out", str(again), "--scale", "0.1"]) == 0
    x = np.array([[[1.0], [2.0], [3.0], [4.0]]])
    np.testing.assert_allclose(load(out).predict(x), load(again).predict(x), atol=1e-5)


def test_demo_trains_exports_and_reports_all_cells(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    for cell in ("simple_rnn", "lstm", "gru"):
        assert cell in out
    for name in ("seed-simplernn", "seed-lstm", "seed-gru"):
        assert (tmp_path / "demo" / name / "manifest.json").exists()
    assert "pred 6 7 8 9" in out and "keras predict us" in out
    tail = out[out.index("validate: golden vectors") :]  # the demo ends with the validate and bench tables
    assert tail.count("PASS") >= 3 * len(installed_backends()) and "FAIL" not in tail  # + step models
    assert "bench: Predictor.predict" in tail and "seed-gru" in tail.split("bench:")[-1]
