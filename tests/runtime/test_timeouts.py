"""predict(timeout=S): onnxruntime stops a call that runs too long (RunOptions.terminate), the session
stays usable; the backends that cannot stop a running call refuse a timeout instead of ignoring it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgernn.runtime import InputError, ModelRunError, RunTimeoutError, load

from conftest import MODELS
from spinning import spinning_bundle

SEED = MODELS / "seed-lstm"
SPIN = np.ones((1, 4, 1), dtype=np.float32)  # max |x| * 1e12 loop trips: never ends
QUICK = np.full((2, 4, 1), 1e-9, dtype=np.float32)  # 1,000 trips: microseconds


@pytest.fixture(scope="module")
def spinning(tmp_path_factory):
    pytest.importorskip("onnx")
    return spinning_bundle(SEED, tmp_path_factory.mktemp("timeout") / "b", "model.onnx")


@pytest.mark.parametrize("threads", [1, 2])
def test_onnxruntime_stops_a_looping_call_at_the_timeout_and_the_session_stays_usable(spinning, threads):
    p = load(spinning, backend="onnxruntime", threads=threads)
    want = p.predict(QUICK)
    assert np.allclose(want, 1e-9)  # the graph's answer: the window mean
    with pytest.raises(RunTimeoutError, match=r"model\.onnx: predict did not finish within timeout=0\.3 s") as info:
        p.predict(SPIN, timeout=0.3)
    assert isinstance(info.value, ModelRunError) and isinstance(info.value, TimeoutError)
    np.testing.assert_array_equal(p.predict(QUICK, timeout=30), want)  # the next call, on the same session
    np.testing.assert_array_equal(p.predict(QUICK), want)


def test_a_timeout_on_a_normal_bundle_gives_the_same_answer(tmp_path):
    p = load(SEED, backend="onnxruntime")
    x = np.random.default_rng(0).uniform(0, 10, (5000, 4, 1)).astype(np.float32)  # two backend calls
    np.testing.assert_array_equal(p.predict(x, timeout=60), p.predict(x))
    np.testing.assert_array_equal(p.predict(x[:1], timeout=60, allow_nonfinite=True), p.predict(x[:1]))


@pytest.mark.parametrize("backend", ["litert", "numpy"])
def test_backends_that_cannot_stop_a_call_refuse_a_timeout_naming_themselves(backend):
    p = load(SEED, backend=backend)
    with pytest.raises(InputError, match=f"the {backend} backend cannot stop a call once it runs"):
        p.predict(QUICK, timeout=5)
    assert p.predict(QUICK).shape == (2, 1)  # the neighbour: no timeout, the same Predictor


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True, "5"])
def test_a_timeout_that_is_not_a_positive_number_is_an_input_error(bad):
    p = load(SEED, backend="onnxruntime")
    with pytest.raises(InputError, match="timeout must be a positive number of seconds"):
        p.predict(QUICK, timeout=bad)


def test_cli_predict_timeout_exits_1_with_the_typed_error_and_no_traceback(spinning):
    def predict(bundle, *values):
        command = [sys.executable, "-m", "edgernn.runtime", "predict", str(bundle), *values, "--timeout", "0.5"]
        return subprocess.run([*command, "--backend", "onnxruntime"], capture_output=True, text=True)

    ok = predict(spinning, *["1e-9"] * 4)
    assert ok.returncode == 0 and float(ok.stdout) == pytest.approx(1e-9), ok.stderr
    out = predict(spinning, *["1"] * 4)
    assert out.returncode == 1, out.stderr
    assert "RunTimeoutError: model.onnx: predict did not finish within timeout=0.5 s" in out.stderr
    assert "Traceback" not in out.stderr
