"""Races with an export's directory swap: a loaded Predictor keeps the bundle it was loaded from."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.export.atomic import replace_dir
from edgernn.runtime import InputError, load

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
