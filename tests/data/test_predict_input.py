"""edgernn predict --input FILE.npy|FILE.csv|- (a window per row, or --series), --output, --json."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from edgernn.runtime import load
from edgernn.runtime.cli import main

from conftest import MODELS

LSTM = MODELS / "seed-lstm"  # 4 timesteps x 1 feature
WINDOWS = np.array([[6, 7, 8, 9], [1, 2, 3, 4], [0.5, 0.25, 3, 2]], dtype=np.float32)


def expected(bundle=LSTM, x=WINDOWS):
    p = load(bundle)
    return p.predict(x.reshape(len(x), p.spec.timesteps, p.spec.features))


def printed(capsys) -> np.ndarray:
    return np.array([[float(v) for v in line.split()] for line in capsys.readouterr().out.splitlines()])


def test_predict_from_npy_in_every_accepted_shape(tmp_path, capsys):
    for name, arr in {"3d": WINDOWS[..., None], "2d": WINDOWS, "1d": WINDOWS[0]}.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, arr)
        assert main(["predict", str(LSTM), "--input", str(path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        want = expected(x=arr.reshape(-1, 4))
        np.testing.assert_allclose(out["outputs"], want, rtol=1e-6)
        assert out["window"] == list(range(len(want))) and out["backend"] == load(LSTM).backend


def test_predict_from_csv_rows_with_a_header(tmp_path, capsys):
    path = tmp_path / "w.csv"
    path.write_text("t0,t1,t2,t3\n" + "".join(",".join(str(v) for v in row) + "\n" for row in WINDOWS))
    assert main(["predict", str(LSTM), "--input", str(path)]) == 0
    np.testing.assert_allclose(printed(capsys), expected(), rtol=1e-5)


def test_predict_from_stdin_in_process_and_through_a_real_pipe(monkeypatch, capsys):
    text = "\n".join(" ".join(str(v) for v in row) for row in WINDOWS) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["predict", str(LSTM), "--input", "-", "--json"]) == 0
    np.testing.assert_allclose(json.loads(capsys.readouterr().out)["outputs"], expected(), rtol=1e-6)
    done = subprocess.run(
        [sys.executable, "-m", "edgernn.runtime", "predict", str(LSTM), "-"],
        input="6 7 8 9\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(float(expected()[0, 0]), rel=1e-5)


def test_stdin_lines_that_do_not_fit_name_the_line_and_value(monkeypatch, capsys):
    for text, words in (("6 7 8 9\n1 2 3\n", "stdin line 2: expected 4 values"), ("6 7 x 9\n", "value 3: 'x'")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        assert main(["predict", str(LSTM), "-"]) != 0
        assert words in capsys.readouterr().err


def test_series_from_stdin_and_from_a_csv_file_gives_every_window(monkeypatch, tmp_path, capsys):
    series = np.arange(1, 11, dtype=np.float32)
    monkeypatch.setattr(sys, "stdin", io.StringIO(" ".join(str(v) for v in series)))
    assert main(["predict", str(LSTM), "--input", "-", "--series", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    windows = np.lib.stride_tricks.sliding_window_view(series, 4)
    np.testing.assert_allclose(out["outputs"], expected(x=windows), rtol=1e-6)
    assert out["row"] == list(range(4, 11))  # the row each window predicts; 10 is past the end
    csv = tmp_path / "s.csv"
    csv.write_text("value\n" + "\n".join(str(v) for v in series) + "\n")
    assert main(["predict", str(LSTM), "--input", str(csv), "--series"]) == 0
    np.testing.assert_allclose(printed(capsys), expected(x=windows), rtol=1e-5)


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".json"])
def test_output_files_hold_the_predictions(suffix, tmp_path, capsys):
    path = tmp_path / "w.npy"
    np.save(path, WINDOWS)
    out = tmp_path / f"y{suffix}"
    assert main(["predict", str(LSTM), "--input", str(path), "--output", str(out)]) == 0
    assert capsys.readouterr().out == ""
    if suffix == ".npy":
        y = np.load(out)
    elif suffix == ".csv":
        y = np.genfromtxt(out, delimiter=",", names=True)["y0"][:, None]
    else:
        y = np.asarray(json.loads(out.read_text())["y0"])[:, None]
    np.testing.assert_allclose(y, expected(), rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["w.npy", out.name])  # no temp file left


def test_positional_values_still_work_and_take_json(capsys):
    assert main(["predict", str(LSTM), "6", "7", "8", "9", "--json"]) == 0
    np.testing.assert_allclose(json.loads(capsys.readouterr().out)["outputs"], expected()[:1], rtol=1e-6)
    assert main(["predict", str(LSTM), "--input", "nope.npy"]) != 0
    assert "no such file" in capsys.readouterr().err
