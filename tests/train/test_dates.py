"""US and day-first dates keep the clock: one format per column, mixed or ambiguous columns refused."""

import datetime as dt

import numpy as np
import pytest

from edgernn.runtime.cli import main
from edgernn.runtime.data.cells import DateFormatError
from edgernn.train.pipeline import SeriesJob, load_series

DAYS = [dt.datetime(2020, 1, 1) + dt.timedelta(days=i) for i in range(80) if not 30 <= i < 40]  # a 10-day gap


def write(path, fmt, days=DAYS):
    lines = ["date,temp"] + [f"{d.strftime(fmt)},{np.sin(i / 5):.4f}" for i, d in enumerate(days)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%Y-%m-%dT%H:%M:%S"])
def test_every_date_format_reports_the_gap_the_iso_file_reports(tmp_path, fmt):
    iso = load_series(SeriesJob(str(write(tmp_path / "iso.csv", "%Y-%m-%d")), timesteps=4), note=lambda _: None)
    other = load_series(SeriesJob(str(write(tmp_path / "o.csv", fmt)), timesteps=4), note=lambda _: None)
    assert iso.info["clock"] == other.info["clock"] == "date"
    assert other.info["time_gaps"] == iso.info["time_gaps"] == 1
    assert other.info["date_formats"] == {"date": fmt if "T" not in fmt else "iso"}


def test_an_ambiguous_column_is_refused_and_the_flag_settles_it(tmp_path, capsys):
    days = [dt.datetime(y, m, 1) for y in range(2015, 2021) for m in range(1, 13)]  # 01/02: Jan 2 or Feb 1?
    path = write(tmp_path / "amb.csv", "%d/%m/%Y", days)
    with pytest.raises(DateFormatError, match="ambiguous.*--date-format"):
        load_series(SeriesJob(str(path), timesteps=2), note=lambda _: None)
    argv = ["train", "--data", str(path), "--timesteps", "2", "--epochs", "1", "--out", str(tmp_path / "o")]
    assert main(argv) == 2 and "DateFormatError" in capsys.readouterr().err
    job = SeriesJob(str(path), timesteps=2, date_format="%d/%m/%Y")
    assert load_series(job, note=lambda _: None).info["date_formats"] == {"date": "%d/%m/%Y"}


def test_a_mixed_column_is_refused_not_guessed_per_cell(tmp_path):
    path = tmp_path / "mix.csv"
    path.write_text("date,x\n2020-01-13,1\n01/14/2020,2\n2020-01-15,3\n2020-01-16,4\n")
    with pytest.raises(DateFormatError, match="mixes date formats"):
        load_series(SeriesJob(str(path), timesteps=2), note=lambda _: None)
