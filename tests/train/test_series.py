"""Real series: CSV/NPY files to bundles that take and return raw units; clear errors for bad files."""

import numpy as np
import pytest

from edgernn.runtime import load
from edgernn.runtime.cli import main
from edgernn.runtime.errors import InputError
from edgernn.train.series import read_table, select
from edgernn.train.windows import prepare

from conftest import ROOT, installed_backends
from helpers import manifest_json

SUNSPOTS = ROOT / "data" / "sunspots.csv"
T = 6


@pytest.fixture(scope="session")
def sunspots_bundle(tmp_path_factory):
    """The shipped CSV trained through the CLI: a tiny LSTM, a few epochs."""
    out = tmp_path_factory.mktemp("series") / "sunspots-lstm"
    assert (
        main(
            [
                "train",
                "--data",
                str(SUNSPOTS),
                "--cell",
                "lstm",
                "--units",
                "4",
                "--epochs",
                "3",
                "--timesteps",
                str(T),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def sunspot_values():
    return np.genfromtxt(SUNSPOTS, delimiter=",", skip_header=1)[:, 1]


def test_sunspots_bundle_takes_and_returns_raw_units_on_every_backend(sunspots_bundle):
    import keras

    values = sunspot_values()
    train = values[: round(0.7 * len(values))]  # 70 % chronological split, computed here independently
    mean, std = train.mean(), train.std()
    pre = manifest_json(sunspots_bundle)["preprocessing"]
    assert pre["input"]["offset"][0] == pytest.approx(mean, rel=1e-6)
    assert pre["input"]["scale"][0] == pytest.approx(1 / std, rel=1e-6)
    assert pre["output"] == pre["input"]
    raw = np.stack([values[i : i + T] for i in (0, 100, 300)])[:, :, None].astype(np.float32)
    model = keras.models.load_model(sunspots_bundle / "model.keras", compile=False)
    expected = np.asarray(model((raw - mean) / std)) * std + mean
    assert installed_backends() == ["litert", "onnxruntime", "numpy"]
    for backend in installed_backends():
        got = load(sunspots_bundle, backend=backend).predict(raw)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
        assert got.min() > -50 and got.max() < 400, "raw units: sunspot numbers, not z-scores"


def test_test_split_metrics_match_an_independent_computation(sunspots_bundle):
    import keras

    man = manifest_json(sunspots_bundle)
    values = sunspot_values()
    n = len(values)
    test = values[round(0.7 * n) + round(0.15 * n) :]
    x = np.stack([test[i : i + T] for i in range(len(test) - T)])[:, :, None]
    y = test[T:]
    model = keras.models.load_model(sunspots_bundle / "model.keras", compile=False)
    pre = man["preprocessing"]["input"]
    pred = (
        np.asarray(model(((x - pre["offset"][0]) * pre["scale"][0]).astype(np.float32)))[:, 0] / pre["scale"][0]
        + pre["offset"][0]
    )
    rows = {(r["source"], r["backend"]): r for r in man["evaluation"]["rows"]}
    assert set(rows) == {
        ("keras", "keras"),
        ("model.tflite", "litert"),
        ("model.onnx", "onnxruntime"),
        ("model.npz", "numpy"),
        ("baseline: last value", "-"),
    }
    assert man["evaluation"]["windows"] == len(y)
    for key in list(rows)[:3]:
        assert rows[key]["mae"][0] == pytest.approx(np.abs(pred - y).mean(), rel=1e-4), key
        assert rows[key]["rmse"][0] == pytest.approx(np.sqrt(((pred - y) ** 2).mean()), rel=1e-4), key
    assert rows[("baseline: last value", "-")]["mae"][0] == pytest.approx(np.abs(x[:, -1, 0] - y).mean())
    assert man["training"]["data"]["skipped_columns"] == {"YEAR": "time index"}


def test_info_shows_the_test_metrics(sunspots_bundle, capsys):
    assert main(["info", str(sunspots_bundle)]) == 0
    out = capsys.readouterr().out
    assert "test split" in out and "MAE SUNACTIVITY" in out and "model.onnx" in out and "litert" in out


MESSY = """date,station,temp,humidity,pressure
{rows}"""


def messy_csv(path, n=90, missing=(10, 11, 40, 77)):
    """Dates, a text column, 'NA' and empty cells in numeric columns at rows `missing`."""
    rng = np.random.default_rng(3)
    lines = []
    for i in range(n):
        temp = f"{20 + 5 * np.sin(i / 6) + rng.normal(0, 0.3):.2f}"
        hum = f"{60 + 10 * np.cos(i / 9):.1f}"
        if i in missing:
            temp, hum = ("", hum) if i % 2 else (temp, "NA")
        lines.append(f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00,site-{i % 3},{temp},{hum},{1000 + i % 7}")
    path.write_text(MESSY.format(rows="\n".join(lines)) + "\n")
    return path


def test_messy_csv_trains_without_cleaning_and_predicts_raw_units(tmp_path, capsys):
    out = tmp_path / "messy"
    args = [
        "train",
        "--data",
        str(messy_csv(tmp_path / "m.csv")),
        "--cell",
        "gru",
        "--units",
        "2",
        "--epochs",
        "1",
        "--timesteps",
        "4",
        "--horizon",
        "2",
        "--target",
        "temp,humidity",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "'date' skipped (date)" in printed and "'station' skipped (text)" in printed
    assert "4 of 90 rows dropped for missing values" in printed
    man = manifest_json(out)
    assert man["feature_names"] == ["temp", "humidity", "pressure"] and man["output_names"] == ["temp", "humidity"]
    assert man["input"]["features"] == 3 and man["training"]["horizon"] == 2
    assert man["training"]["data"]["rows_dropped_missing"] == 4
    window = np.array([[[20.0, 60.0, 1003.0]] * 4], dtype=np.float32)
    preds = [load(out, backend=b).predict(window) for b in installed_backends()]
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-5)
    assert preds[0].shape == (1, 2)
    assert 5 < float(preds[0][0, 0]) < 40 and 30 < float(preds[0][0, 1]) < 90, "temperature and humidity, raw units"
    pre = man["preprocessing"]["output"]
    assert pre["offset"] == man["preprocessing"]["input"]["offset"][:2]  # the targets' own train statistics


def test_windows_never_span_a_dropped_row_and_respect_the_horizon(tmp_path):
    table = read_table(messy_csv(tmp_path / "m.csv"))
    inputs, targets = select(table, None, None)
    data = prepare(table, inputs, targets, timesteps=4, horizon=2)
    temp = table.column("temp")
    for part in data.parts.values():
        for x, y, r in zip(part.x, part.y, part.rows):
            span = range(r - 5, r + 1)  # 4 inputs, one step skipped, the target 2 after the last input
            assert not {10, 11, 40, 77} & set(span)
            np.testing.assert_array_equal(x[:, 0], temp[r - 5 : r - 1])
            assert y[0] == temp[r]
    assert sum(len(p) for p in data.parts.values()) > 0


def hourly_csv(path, n=60, absent=(20, 21, 22), irregular=False):
    """Hourly readings with the rows `absent` left out of the file (no blank line: the timestamp jumps)."""
    lines = ["time,level"]
    for i in range(n):
        if i not in absent:
            minute = (7 * i) % 60 if irregular else 0
            lines.append(f"2024-03-{1 + i // 24:02d} {i % 24:02d}:{minute:02d}:00,{i}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_windows_never_span_rows_absent_from_a_regular_clock(tmp_path):
    table = read_table(hourly_csv(tmp_path / "h.csv"))
    data = prepare(table, ["level"], ["level"], timesteps=4)
    assert (data.info["clock"], data.info["time_gaps"]) == ("time", 1)
    for part in data.parts.values():
        for x, y in zip(part.x, part.y):  # level = the hour, so a spanning window would jump by 4
            np.testing.assert_array_equal(np.diff(np.append(x[:, 0], y)), 1)
    train = data.parts["train"]  # kept rows 0..19 and 23..(23 + 19): two runs of 20 rows
    assert len(train) == 2 * (20 - 4)


def test_an_irregular_clock_is_not_used_for_gaps(tmp_path):
    table = read_table(hourly_csv(tmp_path / "h.csv", absent=(), irregular=True))
    data = prepare(table, ["level"], ["level"], timesteps=4)
    assert (data.info["clock"], data.info["time_gaps"]) == (None, 0)


def test_npy_columns_by_index_and_a_structured_array(tmp_path):
    arr = np.stack([np.arange(40.0), np.arange(40.0) * 10], axis=1)
    np.save(tmp_path / "a.npy", arr)
    table = read_table(tmp_path / "a.npy")
    inputs, targets = select(table, ["1", "0"], ["0"])
    data = prepare(table, inputs, targets, timesteps=3, horizon=1)
    w = data.parts["train"]
    np.testing.assert_array_equal(w.x[0], [[0, 0], [10, 1], [20, 2]])
    assert w.y[0, 0] == 3
    rec = np.zeros(30, dtype=[("t", "f8"), ("level", "f4")])
    rec["level"] = np.linspace(0, 1, 30)
    np.save(tmp_path / "s.npy", rec)
    assert select(read_table(tmp_path / "s.npy"), None, None) == (["t", "level"], ["t"])


@pytest.mark.parametrize(
    "content,columns,message",
    [
        ("when,where\n2024-01-01,a\n2024-01-02,b\n", [], "no numeric column"),
        ("a,b\n1,2\n3,4\n", ["--columns", "a,nope"], "'nope': no such column"),
        ("a,b\n1,2\n3,4\n", ["--target", "c"], "'c': no such column"),
        ("a,when\n1,x\n2,y\n", ["--columns", "when"], "that column is text, not numeric"),
        ("a\n" + "\n".join(str(i) for i in range(12)) + "\n", ["--timesteps", "12"], "fewer rows than one window"),
        ("a\n" + "\n".join(str(i) for i in range(20)) + "\n", ["--timesteps", "5"], "the val split"),
    ],
)
def test_bad_files_give_a_clear_error(tmp_path, capsys, content, columns, message):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    assert main(["train", "--data", str(data), *columns, "--out", str(tmp_path / "out")]) == 2  # usage
    err = capsys.readouterr().err
    assert "InputError" in err and message in err
    assert not (tmp_path / "out").exists()


def test_the_same_files_load_when_they_fit(tmp_path):
    """The passing neighbours of the guards above."""
    good = tmp_path / "good.csv"
    good.write_text("a,b\n" + "\n".join(f"{i},{2 * i}" for i in range(60)) + "\n")
    table = read_table(good)
    assert select(table, ["a", "b"], ["b"]) == (["a", "b"], ["b"])
    data = prepare(table, ["a"], ["a"], timesteps=3)  # rows 42/9/9 -> windows of 4 rows
    assert {p: len(w) for p, w in data.parts.items()} == {"train": 39, "val": 6, "test": 6}


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(InputError, match="unknown file type"):
        read_table(tmp_path / "x.parquet")


def test_train_writes_its_loss_curve_beside_the_bundle(sunspots_bundle):
    png = sunspots_bundle.with_name(f"{sunspots_bundle.name}.loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert manifest_json(sunspots_bundle)["name"] == sunspots_bundle.name  # not the staging folder's
