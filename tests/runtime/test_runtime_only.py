"""The runtime never imports the training stack, and the shipped bundles work out of the box."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgernn.runtime import load
from edgernn.runtime.validate import validate

from conftest import MODELS, ROOT
from helpers import default_backends, installed_default_backends

SHIPPED = sorted(p for p in MODELS.iterdir() if (p / "manifest.json").exists()) if MODELS.exists() else []


def test_seed_bundles_are_shipped():
    assert {p.name for p in SHIPPED} >= {"seed-simplernn", "seed-lstm", "seed-gru"}


@pytest.mark.parametrize("backend", default_backends())
def test_runtime_imports_no_tensorflow_keras_or_tf2onnx(backend):
    code = textwrap.dedent(f"""
        import json, sys
        from edgernn.runtime import load
        p = load({str(MODELS / "seed-simplernn")!r}, backend={backend!r})
        y = p.predict([[[6.0], [7.0], [8.0], [9.0]]])
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'tf_keras'))
        print(json.dumps({{"y": float(y[0, 0]), "heavy": heavy}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert np.isfinite(result["y"])


@pytest.mark.parametrize("bundle", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_bundle_validates_on_every_installed_backend(bundle):
    rows = validate(bundle)
    assert {r.backend for r in rows} == set(installed_default_backends())
    assert rows and all(r.passed for r in rows), [r for r in rows if not r.passed]


@pytest.mark.parametrize("bundle", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_bundle_matches_its_keras_model(bundle):
    """The shipped artifacts still predict what the shipped model.keras does, in raw units."""
    import keras

    from edgernn.runtime.manifest import Manifest

    model = keras.models.load_model(bundle / "model.keras", safe_mode=True, compile=False)
    spec = Manifest.read(bundle).spec
    if spec.timesteps == 4 and spec.features == 1:  # the seed task's probes
        raw = np.array([[[6.0], [7.0], [8.0], [9.0]], [[-1.0], [0.0], [1.0], [2.0]]], dtype=np.float32)
    else:  # two windows spread over the bundle's input range
        raw = spec.x.to_raw(np.random.default_rng(0).uniform(-1, 1, (2, spec.timesteps, spec.features))).astype(
            np.float32
        )
    expected = spec.y.to_raw(np.asarray(model(spec.x.to_model(raw))))
    for name in installed_default_backends():
        np.testing.assert_allclose(load(bundle, backend=name).predict(raw), expected, atol=1e-4)
