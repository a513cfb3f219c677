"""Issue 13 item 7: a .keras file saved on the JAX or torch backend exports on the TensorFlow backend,
and every artifact (window and step models, each format) answers like the *saving* backend did.

A child process with KERAS_BACKEND=jax (resp. torch), and TensorFlow blocked from import, builds the
models, seeds their weights, saves model.keras and its own predictions on fixed windows. The parent
runs `edgernn export` on that file and checks each artifact against the child's predictions within
1e-5: the reference comes from the other backend, never from TensorFlow or the code under test.

Run by `make test-backends` (CI runs it too; it installs the [keras-backends] extra); skipped, with
the reason printed (-rs), when jax or torch does not install or import here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from edgernn.runtime import load
from edgernn.runtime.backends import available, backends_for
from edgernn.runtime.cli import main

TOLERANCE = 1e-5
BACKENDS = ("jax", "torch")
# case -> the formats asked for; the C format (proved with a host compiler) has no Conv1D kernel (a refusal
# with its reason, tested in test_models_people_build.py)
WITH_C = ",c" if available("c") else ""
CASES = {"lstm": "tflite,onnx,numpy" + WITH_C, "gru": "tflite,onnx,numpy" + WITH_C, "conv_lstm": "tflite,onnx,numpy"}
NOT_IMPORTABLE = 3  # the child's exit code when its backend package does not import

CHILD = r"""
import sys
sys.modules["tensorflow"] = None  # the saving side runs without TensorFlow
out = sys.argv[1]
try:
    import keras
    keras.ops.convert_to_numpy(keras.ops.ones((1,)))  # the backend imports and runs
except Exception as exc:
    print(f"keras on this backend does not import: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
import json, os
import numpy as np

L = keras.layers
models = {
    "lstm": keras.Sequential([keras.Input((6, 3)), L.LSTM(5), L.Dense(2)]),
    "gru": keras.Sequential([keras.Input((6, 3)), L.GRU(5), L.Dense(2)]),
    "conv_lstm": keras.Sequential(
        [keras.Input((6, 3)), L.Conv1D(4, 3, padding="causal", activation="relu"), L.LSTM(5), L.Dense(2)]
    ),
}
rng = np.random.default_rng(13)
x = rng.uniform(-1, 1, (4, 6, 3)).astype(np.float32)
for name, model in models.items():
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    os.makedirs(os.path.join(out, name))
    model.save(os.path.join(out, name, "model.keras"))
    y = keras.ops.convert_to_numpy(model(x, training=False))
    np.savez(os.path.join(out, name, "predictions.npz"), x=x, y=y)
print(json.dumps({"backend": keras.backend.backend(), "keras": keras.__version__}))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """backend -> (folder holding one subfolder per case, the child's report); one child per backend, lazily."""
    done: dict[str, tuple] = {}

    def get(backend: str):
        if backend not in done:
            if importlib.util.find_spec(backend) is None:
                pytest.skip(f"{backend} is not installed: pip install 'edgernn[keras-backends]' (make test-backends)")
            out = tmp_path_factory.mktemp(f"saved-{backend}")
            env = {**os.environ, "KERAS_BACKEND": backend}
            run = subprocess.run([sys.executable, "-c", CHILD, str(out)], env=env, capture_output=True, text=True)
            if run.returncode == NOT_IMPORTABLE:
                pytest.skip(f"{backend}: {run.stderr.strip().splitlines()[-1]}")
            assert run.returncode == 0, run.stderr[-2000:]
            done[backend] = (out, json.loads(run.stdout.strip().splitlines()[-1]))
        return done[backend]

    return get


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_saved_on_another_backend_exports_and_every_artifact_answers_like_it(saved, tmp_path, backend, case):
    import keras

    assert keras.backend.backend() == "tensorflow"  # the exporting side
    folder, report = saved(backend)
    assert report["backend"] == backend
    ref = np.load(folder / case / "predictions.npz")
    x, want = ref["x"], ref["y"]
    assert np.abs(want).max() > 0.05  # the seeded weights give answers worth comparing

    out = tmp_path / f"{backend}-{case}"
    argv = ["export", str(folder / case / "model.keras"), "--out", str(out), "--formats", CASES[case], "--streaming"]
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    checked = []
    for entry in manifest["artifacts"]:
        runtimes = [b for b in backends_for(entry["format"]) if available(b) and b != "tflm"]
        assert runtimes, f"no runtime here for {entry['file']}"
        p = load(out, backend=runtimes[0], variant=entry["variant"])
        if entry["role"] == "model":
            got = p.predict(x)
        else:  # a step model streamed over the window from zero state ends where the window model does
            stream = p.stream(batch=len(x))
            got = [stream.step(x[:, t]) for t in range(x.shape[1])][-1]
        err = float(np.abs(np.asarray(got) - want).max())
        assert err <= TOLERANCE, f"{entry['file']} on {runtimes[0]}: {err:.3g} from the {backend} backend's answer"
        checked.append(entry["file"])
    expected = {f"model.{s}" for s in ("tflite", "onnx", "npz")} | {f"step.{s}" for s in ("tflite", "onnx", "npz")}
    if CASES[case].endswith(",c"):
        expected.add("model.c")
    assert set(checked) == expected
