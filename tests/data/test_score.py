"""edgernn score: the windows training cut, chunk by chunk, written atomically beside their row ids."""

import json

import numpy as np
import pytest

from edgernn.runtime import InputError, load
from edgernn.runtime.cli import main
from edgernn.runtime.data.score import score
from series_files import CLOCK, VALUE, brute_force_windows, holey_series, write_csv

from conftest import MODELS, installed_backends

SUNSPOTS = MODELS / "sunspots-gru"
DATA = MODELS.parent / "data" / "sunspots.csv"


def read_scores(path):
    return np.genfromtxt(path, delimiter=",", names=True)


def manifest():
    return json.loads((SUNSPOTS / "manifest.json").read_text())


@pytest.mark.parametrize("backend", installed_backends())
def test_score_reproduces_the_test_windows_train_evaluated(backend, tmp_path):
    """Same target rows, same true values, same MAE as the manifest's test metrics for that backend."""
    out = tmp_path / "scores.csv"
    summary = score(SUNSPOTS, DATA, out, backend=backend)
    m = manifest()
    evaluation = m["evaluation"]
    got = read_scores(out)
    test_rows = np.asarray(evaluation["predictions"]["row"])
    sel = np.isin(got["row"], test_rows)
    assert got["row"][sel].astype(int).tolist() == test_rows.tolist()
    np.testing.assert_array_equal(got[VALUE][sel], np.asarray(evaluation["predictions"]["y_true"])[:, 0])
    recorded = next(r for r in evaluation["rows"] if r["backend"] == backend)
    mae = float(np.mean(np.abs(got[f"{VALUE}_pred"][sel] - got[VALUE][sel])))
    assert mae == pytest.approx(recorded["mae"][0], rel=1e-6)
    keras = np.asarray(evaluation["predictions"]["keras"])[:, 0]
    np.testing.assert_allclose(got[f"{VALUE}_pred"][sel], keras, atol=1e-4)
    # every window of the file: rows 12..308 have a true value, 309 is the forecast past the end
    assert summary.windows == m["training"]["data"]["rows"] - 12 + 1
    assert got["row"][-1] == 309 and np.isnan(got[VALUE][-1]) and got[CLOCK][-1] == 2009


def test_chunks_threads_gaps_and_missing_rows_give_the_brute_force_windows(tmp_path):
    years, values = holey_series()
    data = write_csv(tmp_path / "holey.csv", years, values)
    whole = tmp_path / "whole.csv"
    score(SUNSPOTS, data, whole, backend="numpy")
    expected = brute_force_windows(years, values, timesteps=12)
    got = read_scores(whole)
    assert got["row"].astype(int).tolist() == expected
    for chunk, threads in ((7, 1), (13, 3), (1, 2)):
        part = tmp_path / f"c{chunk}-{threads}.csv"
        s = score(SUNSPOTS, data, part, backend="numpy", chunk_rows=chunk, threads=threads)
        chunked = read_scores(part)
        for name in ("row", CLOCK, VALUE):  # the windows themselves: exact
            np.testing.assert_array_equal(chunked[name], got[name])
        # a BLAS call on another batch size may round differently in the last float32 bit
        np.testing.assert_allclose(chunked[f"{VALUE}_pred"], got[f"{VALUE}_pred"], rtol=1e-5, atol=1e-5)
        assert (s.rows_dropped_missing, s.time_gaps) == (6, 1)
    # the predictions are the library's on the same windows
    x = np.stack([values[r - 12 : r] for r in expected[:5]])[..., None]
    np.testing.assert_allclose(got[f"{VALUE}_pred"][:5], load(SUNSPOTS, "numpy").predict(x)[:, 0], rtol=1e-6)


def test_parquet_and_npy_in_and_out_match_csv(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (pip install 'edgernn[ray]')")
    import pyarrow.parquet as pq

    years, values = holey_series(120)
    csv_in = write_csv(tmp_path / "s.csv", years, values)
    pq_in = tmp_path / "s.parquet"
    pq.write_table(pa.table({CLOCK: years, VALUE: values}), pq_in, row_group_size=17)
    npy_in = tmp_path / "s.npy"
    np.save(npy_in, np.rec.fromarrays([years, values], names=[CLOCK, VALUE]))
    score(SUNSPOTS, csv_in, tmp_path / "a.parquet", backend="numpy", chunk_rows=10)
    score(SUNSPOTS, pq_in, tmp_path / "b.parquet", backend="numpy", chunk_rows=10)
    score(SUNSPOTS, npy_in, tmp_path / "c.parquet", backend="numpy", chunk_rows=10)
    a, b, c = (pq.read_table(tmp_path / f"{n}.parquet").to_pandas() for n in "abc")
    assert len(a) == len(brute_force_windows(years, values, 12)) and a.equals(b) and a.equals(c)
    score(SUNSPOTS, csv_in, tmp_path / "d.npy", backend="numpy", chunk_rows=10)
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy")[:, 0], a[f"{VALUE}_pred"].to_numpy())


def _bad_files(tmp_path):
    good = DATA.read_text().splitlines()
    files = {
        "wrong columns": ("YEAR,X\n1,2\n2,3\n", ["'SUNACTIVITY'", "['YEAR', 'X']"]),
        "too few rows": ("\n".join(good[:6]) + "\n", ["5 rows", "12 rows"]),
        "non-numeric cell": ("\n".join(good[:100] + ["1799,abc"] + good[101:]) + "\n", ["row 99", "line 101", "'abc'"]),
        "every row missing": ("YEAR,SUNACTIVITY\n" + "".join(f"{y},\n" for y in range(30)), ["no complete window"]),
        "unreadable parquet": ("not parquet", ["not a readable Parquet file"]),
    }
    for name, (text, words) in files.items():
        path = tmp_path / (name.replace(" ", "-") + (".parquet" if "parquet" in name else ".csv"))
        path.write_text(text)
        yield name, path, words


def test_bad_files_are_typed_errors_naming_file_row_column_and_nothing_is_written(tmp_path, capsys):
    pytest.importorskip("pyarrow", reason="the unreadable-Parquet case needs pyarrow")
    out = tmp_path / "out.csv"
    out.write_text("the previous scores\n")
    for name, path, words in _bad_files(tmp_path):
        with pytest.raises(InputError) as info:
            score(SUNSPOTS, path, out, backend="numpy", chunk_rows=32)
        for word in [str(path), *words]:
            assert word in str(info.value), (name, str(info.value))
        assert out.read_text() == "the previous scores\n", name
        assert main(["score", str(SUNSPOTS), "--data", str(path), "--out", str(tmp_path / "new.csv")]) != 0
        assert "InputError" in capsys.readouterr().err and not (tmp_path / "new.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_missing_error_names_the_row_and_column_and_drop_is_the_neighbour(tmp_path):
    years, values = holey_series(60)
    data = write_csv(tmp_path / "h.csv", years, values)
    with pytest.raises(InputError, match=r"row 40, column 'SUNACTIVITY' is missing"):
        score(SUNSPOTS, data, tmp_path / "o.csv", backend="numpy", strict=True)
    assert not (tmp_path / "o.csv").exists()
    assert score(SUNSPOTS, data, tmp_path / "o.csv", backend="numpy").rows_dropped_missing == 3  # rows 40, 41, 57


def test_score_cli_json_and_out_equal_to_input_refused(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["score", str(SUNSPOTS), "--data", str(DATA), "--out", str(out), "--json", "--threads", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["windows"] == 298 and summary["columns"] == ["row", CLOCK, f"{VALUE}_pred", VALUE]
    assert main(["score", str(SUNSPOTS), "--data", str(out), "--out", str(out)]) != 0
    assert "that is the input file" in capsys.readouterr().err
