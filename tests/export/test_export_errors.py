"""Export's failures on the way to disk are typed ExportErrors and leave nothing behind (issue 16's list)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgernn.runtime.cli import main

from conftest import MODELS

SEED = MODELS / "seed-lstm"


def test_out_under_a_file_is_an_export_error(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    (tmp_path / "afile").write_text("x")
    assert main(["export", str(SEED / "model.keras"), "--out", str(tmp_path / "ok"), "--formats", "numpy"]) == 0
    capsys.readouterr()
    under_a_file = str(tmp_path / "afile" / "b")
    assert main(["export", str(SEED / "model.keras"), "--out", under_a_file, "--formats", "numpy"]) == 1
    err = capsys.readouterr().err
    assert "ExportError: cannot write the bundle to" in err and "Traceback" not in err


def test_a_full_disk_mid_export_is_an_export_error_and_nothing_is_left(tmp_path):
    """RLIMIT_FSIZE in a child stands in for a full disk: a write past 8 KB (model.keras) fails with EFBIG."""
    pytest.importorskip("tensorflow")
    out = tmp_path / "b"
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))\n"
        "from edgernn.runtime.cli import main\n"
        f"sys.exit(main(['export', {str(SEED / 'model.keras')!r}, '--out', {str(out)!r}, '--formats', 'numpy']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "ExportError: cannot write the bundle to" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no bundle, no staging folder


@pytest.fixture
def read_only_dir(tmp_path):
    """tmp_path/ro as a read-only bind mount (EROFS: root ignores mode bits, not a read-only mount)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(ro), str(ro)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a bind mount here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.strip()}")
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_export_to_a_read_only_filesystem_is_an_export_error(read_only_dir, capsys):
    pytest.importorskip("tensorflow")
    assert main(["export", str(SEED / "model.keras"), "--out", str(read_only_dir / "b"), "--formats", "numpy"]) == 1
    err = capsys.readouterr().err
    assert "ExportError: cannot write the bundle to" in err and "Traceback" not in err
    assert list(read_only_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["npz", "2d"])
def test_a_calibration_file_that_is_not_windows_is_an_input_error(tmp_path, capsys, kind):
    path = tmp_path / f"cal.{'npz' if kind == 'npz' else 'npy'}"
    if kind == "npz":
        np.savez(path, x=np.zeros((4, 4, 1), np.float32))
    else:
        np.save(path, np.zeros((4, 4), np.float32))
    args = ["export", str(SEED / "model.keras"), "--out", str(tmp_path / "b"), "--quantize", "int8"]
    assert main([*args, "--calibration", str(path)]) == 2  # usage: the file given is not what was asked
    err = capsys.readouterr().err
    assert "InputError: --calibration" in err and "expected a .npy array (n, timesteps, features)" in err
