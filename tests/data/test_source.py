"""Series files read by row range: every range equals the same rows of the whole file."""

import numpy as np
import pytest

from edgernn.runtime import InputError
from edgernn.runtime.data import source as src

VALUES = np.arange(50, dtype=float) / 4


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("end", [b"\n", b"", b"\r\n"])
def test_csv_ranges_across_index_points(header, bom, end, tmp_path, monkeypatch):
    monkeypatch.setattr(src, "INDEX_EVERY", 7)  # many index points in 50 rows
    sep = b"\r\n" if end == b"\r\n" else b"\n"
    body = (b"v" + sep if header else b"") + sep.join(repr(float(v)).encode() for v in VALUES) + end
    path = tmp_path / "f.csv"
    path.write_bytes(bom + body)
    s = src.open_source(path)
    assert s.rows == 50 and s.columns == (["v"] if header else ["0"])
    for a in range(50):
        for b in (a + 1, a + 8, 60):
            np.testing.assert_array_equal(s.read(a, b, s.columns)[s.columns[0]], VALUES[a:b])


def test_npy_layouts_and_missing_values(tmp_path):
    with_nan = VALUES.copy()
    with_nan[3] = np.inf
    for name, arr, cols in (
        ("1d", with_nan, ["0"]),
        ("2d", np.stack([with_nan, VALUES], 1), ["0", "1"]),
        ("rec", np.rec.fromarrays([with_nan, VALUES], names=["a", "b"]), ["a", "b"]),
    ):
        np.save(tmp_path / f"{name}.npy", arr)
        s = src.open_source(tmp_path / f"{name}.npy")
        assert s.columns == cols and s.rows == 50
        got = s.read(2, 6, cols[:1])[cols[0]]
        assert np.isnan(got[1]) and np.array_equal(got[[0, 2, 3]], VALUES[[2, 4, 5]])


def test_refusals_name_what_was_expected(tmp_path):
    (tmp_path / "x.xlsx").write_text("")
    (tmp_path / "t.npy").write_bytes(b"no")
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match="unknown file type '.xlsx'"):
        src.open_source(tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="no such file"):
        src.open_source(tmp_path / "none.csv")
    with pytest.raises(InputError, match="cannot read it as a .npy array"):
        src.open_source(tmp_path / "t.npy")
    with pytest.raises(InputError, match="column '0' holds <U1 values, not numbers"):
        src.open_source(tmp_path / "s.npy").read(0, 2, ["0"])
