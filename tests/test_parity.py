"""Every zoo model x format x installed backend agrees with Keras within the format's tolerance."""
import numpy as np
import pytest

from conftest import ZOO, ZOO_IDS, random_windows
from edgernn.export import FORMAT_NAMES
from edgernn.export.formats import get_format
from edgernn.runtime import backends, load
from edgernn.runtime.compare import compare, tolerance
from edgernn.train import CELLS

PAIRS = [(fmt, b) for fmt in FORMAT_NAMES for b in backends.REGISTRY if fmt in backends.formats_of(b)]


@pytest.mark.parametrize("fmt,backend", PAIRS, ids=[f"{f}-{b}" for f, b in PAIRS])
@pytest.mark.parametrize("zoo_id", ZOO_IDS)
@pytest.mark.parametrize("batch", [1, 8])
def test_artifact_matches_keras(zoo_models, zoo_bundles, zoo_id, fmt, backend, batch):
    model = zoo_models[zoo_id]
    predictor = load(zoo_bundles[zoo_id], backend=backend)
    assert predictor.artifact["format"] == fmt
    x = random_windows(model, batch, seed=batch)
    ref = np.asarray(model(x, training=False))
    result = compare(ref, predictor.predict(x), tolerance(fmt, "float32"))
    assert result, f"{zoo_id} {fmt}/{backend}: {result.describe()}"
    assert result.max_abs_error <= 1e-5


def test_every_cell_format_and_backend_has_a_parity_test():
    cells = {e.cell for e in ZOO}
    assert cells == set(CELLS), f"cells without a zoo model: {set(CELLS) - cells}"
    for cell in CELLS:
        assert any(e.cell == cell and len(e.units) > 1 for e in ZOO), f"no stacked {cell} in the zoo"
    assert any(e.bidirectional for e in ZOO) and any(e.features > 1 and e.outputs > 1 for e in ZOO)
    tested_formats = {f for f, _ in PAIRS}
    assert tested_formats == set(FORMAT_NAMES)
    for fmt in FORMAT_NAMES:
        assert set(get_format(fmt).backends) <= {b for f, b in PAIRS if f == fmt}
    assert {b for _, b in PAIRS} == set(backends.REGISTRY), "a registered backend has no parity test"


def test_backends_agree_with_each_other_on_the_same_bundle(zoo_bundles):
    path = zoo_bundles["gru-stacked"]
    x = np.random.default_rng(3).uniform(-1, 1, (5, 4, 1)).astype(np.float32)
    outs = [load(path, backend=b).predict(x) for b in backends.installed()]
    assert len(outs) >= 2
    for other in outs[1:]:
        assert np.abs(outs[0] - other).max() <= 2e-5
