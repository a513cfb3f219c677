"""Every zoo model x format x installed backend agrees with Keras within the format's tolerance."""

import numpy as np
import pytest

from edgernn.export.formats import DEFAULT_FORMATS
from edgernn.runtime import backends, load
from edgernn.runtime.compare import compare, tolerance

from conftest import BY_ID, ZOO_IDS, random_windows
from helpers import covered, default_backends, installed_default_backends

PAIRS = [(fmt, b) for fmt in DEFAULT_FORMATS for b in default_backends() if fmt in backends.formats_of(b)]


@pytest.mark.parametrize("fmt,backend", PAIRS, ids=[f"{f}-{b}" for f, b in PAIRS])
@pytest.mark.parametrize("zoo_id", ZOO_IDS)
@pytest.mark.parametrize("batch", [1, 8])
def test_artifact_matches_keras(zoo_models, zoo_bundles, zoo_id, fmt, backend, batch):
    model = zoo_models[zoo_id]
    predictor = load(zoo_bundles[zoo_id], backend=backend)
    assert predictor.artifact.format == fmt
    x = random_windows(model, batch, seed=batch)
    ref = np.asarray(model(x, training=False))
    result = compare(ref, predictor.predict(x), tolerance(fmt, "float32"))
    assert result, f"{zoo_id} {fmt}/{backend}: {result.describe()}"
    assert result.max_abs_error <= 1e-5
    covered(BY_ID[zoo_id].cell, fmt, "float32", "model", backend)


def test_backends_agree_with_each_other_on_the_same_bundle(zoo_bundles):
    path = zoo_bundles["gru-stacked"]
    x = np.random.default_rng(3).uniform(-1, 1, (5, 4, 1)).astype(np.float32)
    outs = [load(path, backend=b).predict(x) for b in installed_default_backends()]
    assert len(outs) >= 2
    for other in outs[1:]:
        assert np.abs(outs[0] - other).max() <= 2e-5
