"""Races with an export's directory swap: a loaded Predictor keeps the bundle it was loaded from."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgernn.export.atomic import replace_dir
from edgernn.runtime import EdgeRNNError, InputError, load

from conftest import MODELS
from helpers import copy_bundle


def test_stream_after_a_re_export_uses_the_step_model_loaded_with_the_bundle(tmp_path):
    target = copy_bundle(MODELS / "seed-lstm", tmp_path / "bundle")
    p = load(target, backend="numpy")
    before = [float(p.stream().step([v])[0]) for v in (6, 7, 8, 9)][-1]
    replace_dir(copy_bundle(MODELS / "seed-gru", tmp_path / "new"), target)  # an export swaps another model in
    assert load(target, backend="numpy").manifest.model.cell == "gru"  # the folder now holds the new bundle
    after = [float(p.stream().step([v])[0]) for v in (6, 7, 8, 9)][-1]
    assert after == before  # the step model was read at load, with the rest of the old bundle
    assert np.array_equal(p.predict([[[6.0], [7.0], [8.0], [9.0]]]), p.predict([[[6.0], [7.0], [8.0], [9.0]]]))


@pytest.mark.parametrize("batch", [10**12, 0, -1, 2.0, True])
def test_a_stream_batch_out_of_range_is_an_input_error_not_a_memory_error(batch):
    p = load(MODELS / "seed-lstm", backend="numpy")
    assert p.stream(batch=4).step(np.zeros((4, 1))).shape == (4, 1)  # the neighbour
    with pytest.raises(InputError, match="batch must be an integer from 1 to"):
        p.stream(batch=batch)


SWAPPER = """
import os, sys
secret, real, spare, target = sys.argv[1:5]
link, copy = os.path.join(spare, "link"), os.path.join(spare, "copy")
while True:  # until killed: the bundle's model.npz is a symlink to the secret, then the real file again
    os.symlink(secret, link)
    os.replace(link, target)
    os.link(real, copy)
    os.replace(copy, target)
"""

SECRET_BYTES = 424_242  # a size no bundle file has: it must never appear in a message


def _inotify_opens(path: Path):
    """A function returning how often `path` has been opened since this call (Linux inotify)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0 or libc.inotify_add_watch(fd, os.fsencode(path), 0x20 | 0x01) < 0:  # IN_OPEN | IN_ACCESS
        pytest.skip("inotify is not available here")
    seen = []

    def opens() -> int:
        with contextlib.suppress(BlockingIOError):
            while True:
                data = os.read(fd, 4096)
                at = 0
                while at < len(data):  # struct inotify_event: wd, mask, cookie, len, then len name bytes
                    _, mask, _, size = struct.unpack_from("iIII", data, at)
                    seen.append(mask)
                    at += 16 + size
        return len(seen)

    return opens


@pytest.mark.skipif(sys.platform != "linux", reason="counts opens of the target with inotify")
def test_3000_loads_racing_a_symlink_swap_never_read_the_target_and_every_failure_is_typed(tmp_path):
    bundle = copy_bundle(MODELS / "seed-lstm", tmp_path / "bundle")
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * SECRET_BYTES)
    spare = tmp_path / "spare"  # outside the bundle: a bundle holds only the files its manifest lists
    spare.mkdir()
    real = spare / "model.npz"
    os.link(bundle / "model.npz", real)
    opens = _inotify_opens(secret)
    args = [str(secret), str(real), str(spare), str(bundle / "model.npz")]
    swapper = subprocess.Popen([sys.executable, "-I", "-c", SWAPPER, *args])
    answers, failures = [], []
    try:
        for _ in range(3000):
            try:
                answers.append(load(bundle, backend="numpy").predict([[[6.0], [7.0], [8.0], [9.0]]]))
            except EdgeRNNError as exc:  # anything else fails the test with its traceback
                failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        swapper.kill()
        swapper.wait()
    assert opens() == 0  # the target outside the bundle was never opened, let alone read
    assert answers and failures, (len(answers), len(failures))  # the race really ran both ways
    assert len({a.tobytes() for a in answers}) == 1  # every load that passed read the real file
    odd = [f for f in failures if "symlink" not in f and "replaced" not in f]
    assert not odd, odd[:5]
    assert not [f for f in failures if str(SECRET_BYTES) in f or f"{SECRET_BYTES:,}" in f]
    os.link(real, spare / "restore")  # the neighbour: the real file back in place, and the same watch on it
    os.replace(spare / "restore", bundle / "model.npz")
    opens_real = _inotify_opens(real)
    assert np.array_equal(load(bundle, backend="numpy").predict([[[6.0], [7.0], [8.0], [9.0]]]), answers[0])
    assert opens_real() > 0  # a load does open the file the watch is on


EXPORTER = """
import shutil, sys
from pathlib import Path
from edgernn.export.atomic import replace_dir
target, sources = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
i = 0
while True:  # until killed: an export swapping another finished bundle in, again and again
    staging = target.with_name(f"staging-{i}")
    shutil.copytree(sources[i % 2], staging)
    replace_dir(staging, target)
    i += 1
"""


def test_loads_racing_an_export_swap_get_one_whole_bundle_or_a_replaced_error(tmp_path):
    x = [[[6.0], [7.0], [8.0], [9.0]]]
    sources = [MODELS / "seed-lstm", MODELS / "seed-gru"]
    want = {load(s, backend="numpy").predict(x).tobytes() for s in sources}  # the neighbours: each bundle alone
    target = copy_bundle(sources[0], tmp_path / "bundle")
    exporter = subprocess.Popen([sys.executable, "-c", EXPORTER, str(target), *map(str, sources)])
    answers, failures = [], []
    try:
        for _ in range(1000):
            try:
                answers.append(load(target, backend="numpy").predict(x).tobytes())
            except EdgeRNNError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        exporter.kill()
        exporter.wait()
    assert set(answers) <= want and answers  # never a mix of two bundles
    odd = [f for f in failures if "was replaced while it was being read" not in f]
    assert not odd, odd[:5]  # not an IntegrityError or a missing file blaming corruption
