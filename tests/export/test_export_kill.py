"""A SIGKILLed export leaves the earlier bundle complete and valid; its temp folder is swept later."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from edgernn.export.atomic import clean_stale
from edgernn.runtime import load
from edgernn.runtime.validate import validate

from conftest import MODELS, ROOT

EXPORT = textwrap.dedent("""
    import sys
    from edgernn.train import build_model
    from edgernn.export import export_bundle
    model = build_model("gru", (6,), timesteps=4, features=1, outputs=1, seed=3)
    export_bundle(model, sys.argv[1])
    print("finished")
""")


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _kill_when_written(proc, target, timeout=180.0):
    """SIGKILL `proc` as soon as its temp folder beside `target` holds a file; return that folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for tmp in target.parent.glob(f".{target.name}.tmp-*"):
            if tmp.is_dir() and any(tmp.iterdir()):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return tmp
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"the export never wrote into a temp folder (exit {proc.poll()}: {proc.stderr.read()[-2000:]})")


@pytest.mark.slow
def test_sigkill_mid_export_leaves_the_earlier_bundle_intact(tmp_path, zoo_models):
    target = tmp_path / "bundle"
    shutil.copytree(MODELS / "seed-lstm", target)
    before = _snapshot(target)
    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORT, str(target)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    stale = _kill_when_written(proc, target)
    assert proc.returncode == -signal.SIGKILL
    assert stale.exists() and any(stale.iterdir()), "killed mid-write: a partial temp folder is left"
    # The final name still holds the earlier bundle, byte for byte, and it validates on every backend.
    assert _snapshot(target) == before
    rows = validate(target)
    assert rows and all(r.passed for r in rows)
    # beside it, its lock file: no process holds it any more, which is what marks the folder stale
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([stale.name, f"{stale.name}.lock", "bundle"])

    # The next export to that path sweeps the dead export's folder and swaps in a complete bundle.
    export_bundle_path = _export(zoo_models["simple_rnn-single"], target)
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    load(export_bundle_path).predict(np.zeros((1, 4, 1)))


def _export(model, target):
    from edgernn.export import export_bundle

    return export_bundle(model, target, formats=("tflite",)).path


def _target_and_dead_pid(tmp_path):
    """An existing bundle folder to export to, and the PID of a process that has exited."""
    target = tmp_path / "bundle"
    target.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return target, dead


def test_stale_sweep_spares_live_exports_and_foreign_names(tmp_path):
    target, dead = _target_and_dead_pid(tmp_path)
    doomed = tmp_path / f".bundle.tmp-{dead.pid}-abc"
    live = tmp_path / f".bundle.tmp-{os.getpid()}-def"
    legacy = tmp_path / ".bundle.tmp-xyz"
    other = tmp_path / f".other.tmp-{dead.pid}-abc"
    for folder in (doomed, live, legacy, other):
        folder.mkdir()
        (folder / "model.tflite").write_bytes(b"partial")
    assert clean_stale(target) == [doomed]
    assert not doomed.exists() and live.exists() and legacy.exists() and other.exists()


def test_a_live_export_in_another_pid_namespace_is_known_by_its_lock_not_its_pid(tmp_path):
    """Two containers sharing a volume: the folder's PID is dead here, but its lock is held elsewhere."""
    target, dead = _target_and_dead_pid(tmp_path)
    folder = tmp_path / f".bundle.tmp-{dead.pid}-ns"
    folder.mkdir()
    lock = tmp_path / f"{folder.name}.lock"
    lock.touch()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl, sys, time; f = open({str(lock)!r}, 'r+'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert clean_stale(target) == [] and folder.exists()  # the dead PID alone would have removed it
    finally:
        holder.kill()
        holder.wait()
    assert clean_stale(target) == [folder] and not folder.exists() and not lock.exists()
