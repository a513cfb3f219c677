"""Unit maps folded into the artifacts (export/fold.py): raw units in and out of every file.

Bundles are built in tmp from the shipped models/*/model.keras and from the zoo. The expected
answers come from Keras on the original model with the maps applied by hand here.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import load
from edgernn.runtime.validate import validate

from conftest import MODELS
from helpers import manifest_json

OFFSET, SCALE = [1.0, -2.0, 0.5], [0.5, 2.0, 0.25]  # per input channel
OUT_OFFSET, OUT_SCALE = [3.0, -1.0], [0.1, 4.0]  # per output channel


def _expected(model, raw, offset, scale, out_offset, out_scale):
    xm = ((raw - np.float32(offset)) * np.float32(scale)).astype(np.float32)
    return np.asarray(model(xm, training=False)) / np.float32(out_scale) + np.float32(out_offset)


def _raw_windows(shape, batch=5, seed=0):
    return np.random.default_rng(seed).uniform(-4, 4, (batch, *shape)).astype(np.float32)


@pytest.fixture(scope="module")
def folded(zoo_models, tmp_path_factory):
    """A 3-feature, 2-output SimpleRNN bundle with per-channel maps, folded, with streaming, and its twin unfolded."""
    model = zoo_models["simple_rnn-multi"]
    root = tmp_path_factory.mktemp("fold")
    maps = dict(offset=OFFSET, scale=SCALE, output_offset=OUT_OFFSET, output_scale=OUT_SCALE)
    yes = export_bundle(model, root / "folded", **maps).path
    no = export_bundle(model, root / "unfolded", fold=False, **maps).path
    return model, yes, no


def test_the_manifest_says_folded_and_keeps_the_mapping(folded):
    _, yes, no = folded
    pre = manifest_json(yes)["preprocessing"]
    assert pre["folded"] is True and "fold_note" not in pre
    assert pre["input"] == {"offset": OFFSET, "scale": SCALE}
    assert pre["output"] == {"offset": OUT_OFFSET, "scale": OUT_SCALE}
    assert manifest_json(no)["preprocessing"]["folded"] is False


@pytest.mark.parametrize("backend", ["litert", "onnxruntime", "numpy"])
def test_folded_predict_matches_keras_with_the_maps_on_every_backend(folded, backend):
    model, yes, no = folded
    raw = _raw_windows((5, 3))
    want = _expected(model, raw, OFFSET, SCALE, OUT_OFFSET, OUT_SCALE)
    tol = 1e-5 / np.float32(OUT_SCALE) + 1e-5  # the 1e-5 model-unit bound, in raw units per output
    for path in (yes, no):
        got = load(path, backend=backend).predict(raw)
        assert np.all(np.abs(got - want) <= tol), (path, backend)


def test_the_raw_files_take_and_return_raw_units_outside_edgernn(folded):
    """model.onnx and model.tflite opened by their runtimes directly: raw in, raw out (folded only)."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    model, yes, no = folded
    raw = _raw_windows((5, 3), batch=1)
    want = _expected(model, raw, OFFSET, SCALE, OUT_OFFSET, OUT_SCALE)
    tol = 1e-5 / np.float32(OUT_SCALE) + 1e-5

    def onnx_out(path):
        return ort.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"]).run(
            None, {"input": raw}
        )[0]

    def tflite_out(path):
        it = Interpreter(model_path=str(path / "model.tflite"))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], raw)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])

    for run in (onnx_out, tflite_out):
        assert np.all(np.abs(run(yes) - want) <= tol), run.__name__
        assert np.abs(run(no) - want).max() > 0.1, run.__name__  # unfolded files speak model units


def test_validate_passes_folded_and_unfolded_bundles(folded):
    _, yes, no = folded
    for path in (yes, no):
        rows = validate(path)
        assert rows and all(r.passed for r in rows), [(r.artifact, r.max_abs_error) for r in rows if not r.passed]


def test_an_old_bundle_without_the_flag_still_maps_in_python():
    """models/ bundles written before folding have no `folded` key: their artifacts speak model units."""
    import keras

    path = MODELS / "seed-gru"
    pre = manifest_json(path)["preprocessing"]
    if "folded" in pre:
        pytest.skip("models/ was regenerated with folding; the unfolded twin test covers the old path")
    model = keras.saving.load_model(path / "model.keras")
    p = load(path, backend="numpy")
    assert p.spec.folded is False
    raw = _raw_windows((4, 1), batch=3) + 7
    (off,), (sc,) = pre["input"]["offset"], pre["input"]["scale"]
    (yoff,), (ysc,) = pre["output"]["offset"], pre["output"]["scale"]
    np.testing.assert_allclose(p.predict(raw), _expected(model, raw, off, sc, yoff, ysc), atol=1e-4, rtol=0)


def test_step_models_are_folded_too(tmp_path):
    """A streaming seed-gru with offset and scale: the stream's last step equals the window's answer."""
    path = export_bundle(
        MODELS / "seed-gru" / "model.keras",
        tmp_path / "g",
        streaming=True,
        scale=0.1,
        offset=5.0,
        override_preprocessing=True,  # a re-export keeps its source's mapping unless told otherwise
    ).path
    assert manifest_json(path)["preprocessing"]["folded"] is True
    raw = _raw_windows((4, 1), batch=1) + 7
    for backend in ("litert", "onnxruntime", "numpy"):
        p = load(path, backend=backend)
        stream = p.stream()
        last = [stream.step(raw[0, t]) for t in range(4)][-1]
        np.testing.assert_allclose(last, p.predict(raw)[0], atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "layers, why",
    [
        (lambda L: [L.GRU(4), L.Dense(1, activation="sigmoid")], "not a linear Dense"),
        (lambda L: [L.SimpleRNN(4, use_bias=False), L.Dense(1)], "no bias to absorb the input offset"),
    ],
)
def test_where_folding_is_not_exact_the_python_maps_stay_and_the_manifest_says_why(layers, why, tmp_path):
    import keras
    from keras import layers as L

    model = keras.Sequential([keras.Input((4, 1)), *layers(L)])
    path = export_bundle(model, tmp_path / "m", formats=("onnx", "numpy"), scale=0.5, offset=2.0).path
    pre = manifest_json(path)["preprocessing"]
    assert pre["folded"] is False and why in pre["fold_note"]
    raw = _raw_windows((4, 1))
    want = _expected(model, raw, [2.0], [0.5], [2.0], [0.5])
    for backend in ("onnxruntime", "numpy"):
        np.testing.assert_allclose(load(path, backend=backend).predict(raw), want, atol=1e-4, rtol=0)
