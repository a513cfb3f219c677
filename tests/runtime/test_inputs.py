"""Inputs: bad data is an InputError, odd layouts are handled, and a failed call leaves no trace."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import InputError, ModelRunError, load
from edgernn.runtime import predictor as predictor_module

from conftest import MODELS

SEED = MODELS / "seed-lstm"
BACKENDS = ("litert", "onnxruntime", "numpy")
NATIVE = ("litert", "onnxruntime")  # the numpy backend checks shapes itself (InputError) before any math
GOOD = np.random.default_rng(3).uniform(-10, 10, (5, 4, 1)).astype(np.float32)


@pytest.fixture(scope="module", params=BACKENDS)
def predictor(request):
    return load(SEED, backend=request.param)


BAD = {
    "rank_2": (np.zeros((4, 1)), "Add a batch axis"),
    "rank_4": (np.zeros((1, 4, 1, 1)), r"got \(1, 4, 1, 1\)"),
    "timesteps": (np.zeros((2, 3, 1)), r"got \(2, 3, 1\)"),
    "features": (np.zeros((2, 4, 2)), r"got \(2, 4, 2\)"),
    "scalar": (3.0, r"got \(\)"),
    "strings": ([[["1"], ["2"], ["3"], ["4"]]], "dtype <U1"),
    "objects": (np.array([[[1], [2], [None], [4]]], dtype=object), "dtype object"),
    "complex": (np.ones((1, 4, 1), dtype=complex), "dtype complex128"),
    "ragged": ([[[1], [2], [3]], [[1], [2], [3], [4]]], "cannot turn into an array"),
    "none": (None, "dtype object"),
    "nan": (np.where(np.arange(4)[None, :, None] == 2, np.nan, 1.0), "NaN or inf"),
    "inf": (np.full((1, 4, 1), np.inf), "NaN or inf"),
    "float64_overflow": (np.full((1, 4, 1), 1e300), "NaN or inf"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_an_input_error_and_the_next_call_is_unaffected(predictor, case):
    fresh = load(SEED, backend=predictor.backend).predict(GOOD)
    data, expected = BAD[case]
    with pytest.raises(InputError, match=expected):
        predictor.predict(data)
    np.testing.assert_array_equal(predictor.predict(GOOD), fresh)


def test_nonfinite_inputs_pass_through_on_request(predictor):
    """A NaN window gives NaN on every backend (tests/runtime/test_nonfinite.py); the other windows are untouched."""
    x = GOOD.copy()
    x[1, 2, 0] = np.nan
    y = predictor.predict(x, allow_nonfinite=True)
    assert y.shape == (5, 1)
    np.testing.assert_allclose(np.delete(y, 1, axis=0), predictor.predict(np.delete(x, 1, axis=0)), atol=1e-6)
    assert np.isnan(y[1]).all()


def test_numbers_of_any_real_dtype_and_layout_give_the_float32_answer(predictor):
    expected = predictor.predict(GOOD)
    wide = np.zeros((10, 8, 3), dtype=np.float64)
    wide[::2, ::2, 1] = GOOD[..., 0]
    views = {
        "strided": wide[::2, ::2, 1:2],
        "fortran": np.asfortranarray(GOOD),
        "reversed": GOOD[::-1][::-1],
        "transposed": np.ascontiguousarray(GOOD.transpose(2, 1, 0)).transpose(2, 1, 0),
        "list": GOOD.tolist(),
        "float16": GOOD.astype(np.float16).astype(np.float32),  # value-exact round trip below
    }
    assert not views["strided"].flags.c_contiguous and not views["transposed"].flags.c_contiguous
    for name, x in views.items():
        want = predictor.predict(np.asarray(x, dtype=np.float32)) if name == "float16" else expected
        np.testing.assert_array_equal(predictor.predict(x), want, err_msg=name)
    ints = np.arange(20, dtype=np.int64).reshape(5, 4, 1)
    np.testing.assert_array_equal(predictor.predict(ints), predictor.predict(ints.astype(np.float32)))


def test_empty_batch_returns_an_empty_result_without_running(predictor, monkeypatch):
    def must_not_run(x):
        raise AssertionError("the backend ran on an empty batch")

    monkeypatch.setattr(predictor, "_run", must_not_run)
    y = predictor.predict(np.zeros((0, 4, 1)))
    assert y.shape == (0, 1) and y.dtype == np.float32


def test_huge_batch_runs_in_bounded_chunks(predictor, monkeypatch):
    rows = 2 * predictor_module.MAX_CHUNK + 123
    x = np.random.default_rng(5).uniform(-10, 10, (rows, 4, 1)).astype(np.float32)
    pieces = np.concatenate([predictor.predict(x[i : i + 1000]) for i in range(0, rows, 1000)])
    seen = []
    real_run = predictor._run

    def spy(xm):
        seen.append(len(xm))
        return real_run(xm)

    monkeypatch.setattr(predictor, "_run", spy)
    y = predictor.predict(x)
    assert seen == [predictor_module.MAX_CHUNK, predictor_module.MAX_CHUNK, 123]
    assert y.shape == (rows, 1)
    np.testing.assert_allclose(y, pieces, rtol=0, atol=1e-5)  # kernels may round per batch size


@pytest.mark.parametrize("backend", NATIVE)
def test_a_failure_inside_the_runtime_is_typed_and_the_next_call_matches_a_fresh_predictor(backend):
    """run_model_units skips the input checks, so a wrong shape reaches the runtime itself and fails there
    (for LiteRT, after a resize: the state that used to break the interpreter for the next call)."""
    predictor = load(SEED, backend=backend)
    predictor.predict(GOOD[:2])
    with pytest.raises(ModelRunError, match=r"model\.(tflite|onnx): the runtime failed"):
        predictor.run_model_units(np.zeros((3, 5, 1), dtype=np.float32))
    fresh = load(SEED, backend=backend)
    for batch in (GOOD, GOOD[:1], GOOD[:3]):
        np.testing.assert_array_equal(predictor.predict(batch), fresh.predict(batch))
