"""--engine ray: Ray Data actors on a local Ray (num_cpus=2) give the local engine's output row for row.

Run by `make test-ray` (CI runs it too); skipped, with the reason printed, when ray is not installed.
"""

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'edgernn[ray]' (make test-ray does)")
pq = pytest.importorskip("pyarrow.parquet", reason="the Ray engine writes Parquet (pyarrow, from ray[data])")

from edgernn.runtime import InputError  # noqa: E402
from edgernn.runtime.cli import main  # noqa: E402
from edgernn.runtime.data.parity import validate_data  # noqa: E402
from edgernn.runtime.data.ray_engine import score_ray, validate_ray  # noqa: E402
from edgernn.runtime.data.score import Job, score  # noqa: E402
from series_files import brute_force_windows, holey_series, write_csv  # noqa: E402

from conftest import MODELS  # noqa: E402

SUNSPOTS = MODELS / "sunspots-gru"
DATA = MODELS.parent / "data" / "sunspots.csv"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def table(path):
    return pq.read_table(path).to_pandas().sort_values("row").reset_index(drop=True)


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_ray_scores_equal_local_scores_row_for_row(backend, tmp_path):
    """Ranges of 23 rows: most windows' rows come from two ranges, so the overlap is exercised."""
    years, values = holey_series(300)
    data = write_csv(tmp_path / "holey.csv", years, values)
    job = Job(SUNSPOTS, data, backend=backend, chunk_rows=23)
    summary = score_ray(job, tmp_path / "ray.parquet", actors=2)
    local = score(SUNSPOTS, data, tmp_path / "local.parquet", backend=backend, chunk_rows=23)
    got, want = table(tmp_path / "ray.parquet"), table(tmp_path / "local.parquet")
    assert got.equals(want)  # same rows, same values, same dtypes
    assert got["row"].tolist() == brute_force_windows(years, values, 12)
    assert (summary.windows, summary.rows_dropped_missing, summary.time_gaps) == (
        local.windows,
        local.rows_dropped_missing,
        local.time_gaps,
    )


def test_ray_validate_equals_local_validate(tmp_path):
    local = validate_data(SUNSPOTS, DATA, chunk_rows=40)
    remote = validate_ray(str(SUNSPOTS), str(DATA), chunk_rows=40, actors=2)
    assert remote.passed and local.passed and remote.windows == local.windows == 298
    for a, b in zip(local.rows, remote.rows):
        assert (a.file, a.backend, a.max_abs_error, a.p99_abs_error, a.worst) == (
            b.file,
            b.backend,
            b.max_abs_error,
            b.p99_abs_error,
            b.worst,
        )
        np.testing.assert_array_equal(a.errors, b.errors)


def test_ray_cli_and_an_error_inside_an_actor(tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    argv = ["score", str(SUNSPOTS), "--data", str(DATA), "--out", str(out), "--engine", "ray", "--json"]
    assert main(argv) == 0
    assert len(table(out)) == 298
    lines = DATA.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines[:250] + ["1949,oops"] + lines[251:]) + "\n")  # far past the first range
    with pytest.raises(InputError, match=r"row 249 \(line 251\), column 'SUNACTIVITY': 'oops'"):
        score_ray(Job(SUNSPOTS, bad, backend="numpy", chunk_rows=50), tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
