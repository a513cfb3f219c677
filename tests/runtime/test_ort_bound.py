"""onnxruntime's batch-1 hot path (an IOBinding on preallocated buffers) answers as session.run does.

The buffers are reused call after call, so each answer must be its own array, and a window of another
batch or length must take the plain path. test_threads.py holds it to account under contention.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import load

from conftest import MODELS
from helpers import installed_default_backends

pytestmark = pytest.mark.skipif("onnxruntime" not in installed_default_backends(), reason="needs onnxruntime")


@pytest.mark.parametrize("seed", ["seed-simplernn", "seed-lstm", "seed-gru"])
def test_bound_calls_equal_session_run_and_never_share_their_buffer(seed):
    p = load(MODELS / seed, backend="onnxruntime")
    runner = p.runner
    xs = np.random.default_rng(3).uniform(-10, 10, (6, 1, 4, 1)).astype(np.float32)
    expected = [runner._session.run(None, {runner._input: x})[0] for x in xs]  # the public call, its own session
    first = p.predict(xs[0])  # the plain path, which sets the binding up
    assert runner._bound_shape == (1, 4, 1)
    served, bound_run = [], runner._run_bound  # count the bound calls: both paths answer alike, so only
    runner._run_bound = lambda *a: (served.append(1), bound_run(*a))[1]  # this shows the bound one ran
    answers = [p.predict(x) for x in xs]
    assert len(served) == len(xs)
    for got, want in zip(answers, expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(first, answers[0])
    answers[0][:] = 123.0  # the caller owns what it got: the next answer is untouched
    np.testing.assert_array_equal(p.predict(xs[1]), expected[1])
    assert len({id(a) for a in answers}) == len(answers)


def test_other_batches_take_the_plain_path_and_agree_with_batch_one():
    p = load(MODELS / "seed-lstm", backend="onnxruntime")
    xs = np.random.default_rng(4).uniform(-10, 10, (5, 4, 1)).astype(np.float32)
    ones = np.concatenate([p.predict(x[None]) for x in xs])  # bound after the first
    batch = p.predict(xs)  # (5, 4, 1): session.run
    np.testing.assert_allclose(batch, ones, atol=1e-6)
    assert p.runner._bound_shape == (1, 4, 1)
