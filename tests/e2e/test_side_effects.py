"""Loading and predicting write nothing: a read-only HOME stays as it was, and so does the bundle.

The child process runs with HOME and the XDG folders read-only (root ignores the mode bits, so the
file trees are also compared before and after), ORT_DISABLE_TELEMETRY removed from its environment
(the runtime must set it itself), and a Python audit hook that records every file it opens.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from conftest import MODELS

CHILD = textwrap.dedent("""
    import json, os, sys
    opened = []

    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path, mode, flags = args
            writes = bool(mode and any(c in mode for c in "wax+")) or bool(
                flags and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            path = os.fsdecode(path)
            # The runtime opens the bundle folder once and its files relative to that handle (openat):
            # a relative name here is a file of the bundle.
            opened.append([path if os.path.isabs(path) else os.path.join(sys.argv[1], path), writes])

    sys.addaudithook(hook)
    from edgernn.runtime import load
    p = load(sys.argv[1], backend=sys.argv[2])
    y = p.predict([[[6.0], [7.0], [8.0], [9.0]]] * 3)
    print(json.dumps({"opened": opened, "telemetry": os.environ.get("ORT_DISABLE_TELEMETRY"), "y": y.tolist()}))
""")


def _tree(root):
    """Every path under `root` with its type, size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize("backend", ["litert", "onnxruntime", "numpy"])
def test_load_and_predict_write_nothing(tmp_path, backend):
    home, work, tmp = tmp_path / "home", tmp_path / "cwd", tmp_path / "tmp"
    bundle = shutil.copytree(MODELS / "seed-lstm", tmp_path / "bundle")
    xdg = {
        f"XDG_{k}_HOME": str(home / d)
        for k, d in (("CACHE", ".cache"), ("CONFIG", ".config"), ("DATA", ".local/share"), ("STATE", ".local/state"))
    }
    for folder in (work, tmp, *map(type(home), xdg.values())):
        folder.mkdir(parents=True)
    for folder in (*map(type(home), xdg.values()), home / ".local", home):
        folder.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(xdg, HOME=str(home), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    watched = {"home": home, "cwd": work, "bundle": bundle}
    before = {name: _tree(path) for name, path in watched.items()}
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(bundle), backend],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        for folder in (home, home / ".local", *map(type(home), xdg.values())):
            folder.chmod(0o755)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {name: _tree(path) for name, path in watched.items()} == before
    writes = [path for path, wrote in result["opened"] if wrote and not path.startswith(str(tmp))]
    assert writes == []
    in_bundle = sorted({os.path.relpath(p, bundle) for p, _ in result["opened"] if p.startswith(str(bundle))})
    suffix = {"litert": ".tflite", "onnxruntime": ".onnx", "numpy": ".npz"}[backend]
    # the folder, its manifest, the window model and the step model (read at load, with the rest)
    assert in_bundle == sorted([".", "manifest.json", f"model{suffix}", f"step{suffix}"])
    assert result["telemetry"] == ("1" if backend == "onnxruntime" else None)
    assert len(result["y"]) == 3
