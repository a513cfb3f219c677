"""Untrusted files run isolated: a graph that only misbehaves when it runs ends in a typed error.

The hostile model is a real ONNX graph that passes every static check (its Loop's trip count comes
from the input, so no reader can bound it) and then spins for ~1e12 iterations in onnxruntime.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgernn.runtime import ModelLoadError, load
from edgernn.runtime.isolate import Limits
from edgernn.runtime.validate import validate

from conftest import MODELS
from helpers import copy_bundle, replace_file
from spinning import spinning_bundle

SEED = MODELS / "seed-lstm"
X = np.array([[[6.0], [7.0], [8.0], [9.0]]], dtype=np.float32)
QUICK = Limits(cpu=2, timeout=20)


@pytest.fixture(scope="module")
def spinning(tmp_path_factory):
    pytest.importorskip("onnx")
    return spinning_bundle(SEED, tmp_path_factory.mktemp("spin") / "b", "model.onnx")


def test_a_graph_that_spins_is_killed_by_the_cpu_limit_and_named(spinning):
    assert load(SEED, backend="onnxruntime", isolate=QUICK).predict(X).shape == (1, 1)  # the neighbour
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match=r"model\.onnx on onnxruntime killed the isolated child \(SIGXCPU"):
        load(spinning, backend="onnxruntime", isolate=QUICK)
    assert time.monotonic() - started < QUICK.timeout


def test_the_wall_clock_timeout_stops_a_child_the_cpu_limit_would_not(spinning):
    with pytest.raises(ModelLoadError, match=r"model\.onnx on onnxruntime did not finish within 3 s"):
        load(spinning, backend="onnxruntime", isolate=Limits(cpu=60, timeout=3))


def test_validate_isolate_names_the_artifact_and_a_typed_refusal_stays_a_failed_row(spinning, tmp_path):
    with pytest.raises(ModelLoadError, match=r"model\.onnx on onnxruntime killed the isolated child"):
        validate(spinning, ["onnxruntime", "numpy"], isolate=QUICK)
    broken = copy_bundle(SEED, tmp_path / "broken")
    replace_file(broken, "model.onnx", b"not an onnx file at all")
    rows = validate(broken, ["onnxruntime", "numpy"], isolate=QUICK)
    failed = [r for r in rows if not r.passed]
    assert {r.file for r in failed} == {"model.onnx"} and "ModelLoadError" in failed[0].problem
    assert any(r.passed and r.file == "model.npz" for r in rows)


def test_cli_validate_json_prints_json_for_every_failure_and_isolates_an_unsigned_bundle(spinning, tmp_path):
    import json
    import subprocess
    import sys

    def cli(*args, **env):
        import os

        command = [sys.executable, "-m", "edgernn.runtime", "validate", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})

    ok = cli(SEED, "--json", "--backend", "numpy")
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True
    bad = cli(SEED, "--json", "--backend", "bogus")  # an InputError used to print nothing on stdout
    assert bad.returncode == 2 and "InputError" in json.loads(bad.stdout)["error"]  # 2: usage
    unsigned = copy_bundle(SEED, tmp_path / "unsigned")
    (unsigned / "bundle.sig").unlink()
    (unsigned / "model.onnx").write_bytes((spinning / "model.onnx").read_bytes())
    (unsigned / "manifest.json").write_bytes((spinning / "manifest.json").read_bytes())
    out = cli(unsigned, "--json", "--backend", "onnxruntime", "--timeout", "3")  # isolated by default
    assert out.returncode == 3 and "isolated child" in json.loads(out.stdout)["error"]  # 3: unreadable


def test_a_tflite_while_that_never_advances_its_counter_ends_at_the_timeout(spinning_while, while_seed):
    neighbour = load(while_seed, backend="litert", variant="dynamic", isolate=QUICK)  # the unmodified file passes
    assert neighbour.artifact.graph_form == "while_batch1" and neighbour.predict(X).shape == (1, 1)
    with pytest.raises(ModelLoadError, match=r"model\.dynamic\.tflite on litert did not finish within 3 s"):
        load(spinning_while, backend="litert", variant="dynamic", isolate=Limits(cpu=60, timeout=3))
    load(spinning_while, backend="litert", variant="float32", isolate=QUICK)  # the bundle's other files still load


def test_cli_validate_isolate_ends_a_spinning_while_loop_with_exit_3_naming_the_timeout(spinning_while):
    import json
    import subprocess
    import sys

    def validate_cli(bundle):
        args = ["--isolate", "--json", "--backend", "litert", "--variant", "dynamic", "--timeout", "3"]
        command = [sys.executable, "-m", "edgernn.runtime", "validate", str(bundle), *args]
        return subprocess.run(command, capture_output=True, text=True)

    ok = validate_cli(SEED)
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True, ok.stderr
    out = validate_cli(spinning_while)
    error = json.loads(out.stdout)["error"]
    assert out.returncode == 3 and error.startswith("ModelLoadError"), out.stderr
    assert "model.dynamic.tflite on litert did not finish within 3 s" in error
