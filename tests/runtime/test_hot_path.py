"""Predictor.predict's inlined LiteRT call (one float32 window): the same answers as the public
interpreter on the same file, and every refusal of the general path, with the same message.

The general path is reached with the same values in another form (a list, float64, a batch of two):
the inlined branch takes only a float32 ndarray shaped exactly (1, timesteps, features).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import InputError, backends, load, optional

from conftest import MODELS

pytestmark = pytest.mark.skipif(not optional.available("ai_edge_litert"), reason="needs ai-edge-litert")
SEEDS = ("seed-simplernn", "seed-lstm")
F32_MAX = float(np.finfo(np.float32).max)


@pytest.fixture(scope="module", params=SEEDS)
def seed(request):
    """(predictor, reference): the bundle on the litert backend, and the public Interpreter on its file."""
    p = load(MODELS / request.param, backend="litert")
    interp = (
        backends.backend_module("litert")
        .interpreter_module()
        .Interpreter(model_path=str(p.path / p.artifact.file), num_threads=1)
    )
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

    def reference(x: np.ndarray) -> np.ndarray:  # the seeds are folded: the file takes raw units
        interp.set_tensor(i, np.ascontiguousarray(x, np.float32))
        interp.invoke()
        return interp.get_tensor(o)

    assert p.spec.folded
    return p, reference


def _windows(p, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-10, 10, (n, 1, p.spec.timesteps, p.spec.features)).astype(np.float32)


def _message(fn) -> str:
    with pytest.raises(InputError) as info:
        fn()
    return str(info.value)


def test_the_inlined_call_is_taken_for_litert_and_not_for_the_others(seed):
    p, _ = seed
    assert p._inline is p.runner and p._inline_one == (1, p.spec.timesteps, p.spec.features)
    assert load(MODELS / "seed-lstm", backend="numpy")._inline is None  # the neighbour: no inlined call
    assert load(MODELS / "seed-lstm", backend="litert", threads=2)._inline is None  # split runners


def test_one_window_answers_as_the_public_interpreter_bit_for_bit(seed):
    p, reference = seed
    for x in _windows(p, 20):
        np.testing.assert_array_equal(p.predict(x), reference(x))
        assert p.predict(x).dtype == np.float32


def test_the_inlined_call_agrees_with_the_general_path(seed):
    p, _ = seed
    x = _windows(p, 1, seed=1)[0]
    y = p.predict(x)
    np.testing.assert_array_equal(p.predict(x.tolist()), y)  # a list: the general path
    np.testing.assert_array_equal(p.predict(x.astype(np.float64)), y)  # float64: converted, then run
    np.testing.assert_array_equal(p.predict(np.concatenate([x, x]))[1:], y)  # a batch of two


def test_a_non_contiguous_window_answers_as_its_contiguous_copy(seed):
    p, reference = seed
    wide = np.random.default_rng(2).uniform(-10, 10, (1, 2 * p.spec.timesteps, 3)).astype(np.float32)
    x = wide[:, ::2, 1:2]
    assert x.shape == (1, p.spec.timesteps, 1) and not x.flags.c_contiguous
    np.testing.assert_array_equal(p.predict(x), reference(x))
    x[0, -1, 0] = np.nan  # refused there too
    assert "NaN or inf" in _message(lambda: p.predict(x))


@pytest.mark.parametrize("value", [np.nan, -np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, -1])
def test_a_non_finite_value_anywhere_is_refused_as_on_the_general_path(seed, value, where):
    p, _ = seed
    x = _windows(p, 1, seed=3)[0]
    x.reshape(-1)[where] = value
    general = _message(lambda: p.predict(x.tolist()))
    assert _message(lambda: p.predict(x)) == general and "NaN or inf" in general
    assert _message(lambda: p.predict(x.astype(np.float64))) == general


def test_every_float32_bit_pattern_class_is_judged_as_numpy_judges_it(seed):
    """Each exponent (0 to 255) with mantissas 0, 1 and all-ones and both signs, in each window slot:
    refused exactly when np.isfinite says so (the largest finite float32s summed stay finite)."""
    p, reference = seed
    width = p.spec.timesteps * p.spec.features
    patterns = [(s << 31) | (e << 23) | m for s in (0, 1) for e in range(256) for m in (0, 1, 0x7FFFFF)]
    bits = np.array(patterns, np.uint32).view(np.float32)
    for k, value in enumerate(bits):
        x = np.full(width, F32_MAX if k % 2 else -F32_MAX, np.float32)
        x[k % width] = value
        x = x.reshape(1, p.spec.timesteps, p.spec.features)
        if np.isfinite(value):
            np.testing.assert_array_equal(p.predict(x), reference(x))
        else:
            with pytest.raises(InputError, match="NaN or inf"):
                p.predict(x)


@pytest.mark.parametrize("shape", ["no batch axis", "one step more", "rank 4"])
def test_a_wrong_shape_is_the_same_input_error_on_both_paths(seed, shape):
    p, _ = seed
    t, f = p.spec.timesteps, p.spec.features
    x = {"no batch axis": np.zeros((t, f)), "one step more": np.zeros((1, t + 1, f)), "rank 4": np.zeros((1, t, f, 1))}
    x = x[shape].astype(np.float32)
    assert _message(lambda: p.predict(x)) == _message(lambda: p.predict(x.tolist()))


def test_batch_one_after_a_resize_and_back_answers_as_the_reference(seed):
    p, reference = seed
    xs = _windows(p, 3, seed=4)
    for x in (xs[0], np.concatenate(xs), xs[1], xs[2]):  # batch 1, 3 (a resize), then 1 twice
        want = np.concatenate([reference(w[None]) for w in x])
        np.testing.assert_array_equal(p.predict(x), want)
    assert p.runner._hot is p._inline_one  # back at one window: the inlined native calls are taken again


def test_allow_nonfinite_and_timeout_take_the_guarded_copy(seed):
    p, _ = seed
    x = _windows(p, 1, seed=5)[0]
    x[0, -1, -1] = np.nan
    assert np.isnan(p.predict(x, allow_nonfinite=True)).all()
    with pytest.raises(InputError, match="cannot stop a call"):  # LiteRT cannot keep a timeout
        p.predict(x, timeout=1.0)
    x[0, -1, -1] = 0.0
    assert np.isfinite(p.predict(x)).all()  # the Predictor itself is unchanged by the copies
