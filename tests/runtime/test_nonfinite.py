"""NaN in, NaN out, on every backend: onnxruntime's LSTM and GRU kernels clamp a NaN to a finite number
inside their activations (a NaN window used to predict 5.34 on seed-lstm), so the Predictor and the
Stream give NaN for every window (or stream row) that holds one; LiteRT and numpy propagate it anyway.
Infinities are passed through untouched: every runtime's activations saturate them alike."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import load

from conftest import MODELS, installed_backends, random_windows

SHIPPED = ("seed-lstm", "seed-gru", "seed-simplernn", "sunspots-gru")


def _with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[1, 1, 0] = np.nan  # window 1 holds one NaN
    x[3, -1, -1] = np.nan  # window 3: in its last sample
    return x


def _agree(bundle, x: np.ndarray) -> None:
    xs = _with_nan(x)
    clean = np.delete(x, [1, 3], axis=0)
    for backend in installed_backends():
        p = load(bundle, backend=backend)
        y = p.predict(xs, allow_nonfinite=True)
        assert np.isnan(y[[1, 3]]).all(), (bundle.name, backend, y[[1, 3]])
        np.testing.assert_allclose(np.delete(y, [1, 3], axis=0), p.predict(clean), rtol=0, atol=1e-5)
        inf = x.copy()
        inf[0, 0, 0] = np.inf  # the neighbour: an inf is no NaN, and stays the runtime's business
        assert np.isfinite(p.predict(inf, allow_nonfinite=True)[1:]).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_a_nan_window_predicts_nan_on_every_backend(name):
    bundle = MODELS / name
    spec = load(bundle, backend="numpy").spec
    _agree(bundle, np.random.default_rng(0).uniform(-1, 1, (6, spec.timesteps, spec.features)).astype(np.float32))


def test_a_nan_window_of_a_bidirectional_multi_output_model_is_nan_on_every_backend(zoo_bundles, zoo_models):
    _agree(zoo_bundles["gru-bidirectional-multi"], random_windows(zoo_models["gru-bidirectional-multi"], 6))


@pytest.mark.parametrize("backend", installed_backends())
def test_a_nan_sample_poisons_its_stream_row_on_every_backend(backend):
    s = load(MODELS / "seed-lstm", backend=backend).stream(batch=2)
    rows = [s.step([[v], [6.0]] if v == v else [[6.0], [v]], allow_nonfinite=True) for v in (6.0, np.nan, 8.0)]
    rows.append(s.step([[9.0], [9.0]]))  # no allow_nonfinite: the poisoned row stays NaN
    y = np.concatenate(rows, axis=1)
    assert np.isnan(y[1, 1:]).all() and not np.isnan(y[1, 0]) and np.isfinite(y[0]).all(), y
    s.reset()  # the neighbour: a reset stream is clean again
    assert np.isfinite(s.step([[6.0], [6.0]])).all()
