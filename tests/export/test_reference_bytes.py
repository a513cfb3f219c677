"""validate --fresh runs model.keras from the bytes it hashed: Keras is handed a private copy, not the path."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import IntegrityError
from edgernn.runtime.bundle import Bundle

from conftest import MODELS
from helpers import copy_bundle


def test_keras_opens_a_private_copy_of_the_hashed_bytes(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    from edgernn.export.reference import keras_reference

    bundle = copy_bundle(MODELS / "seed-lstm", tmp_path / "b")
    opened = []
    real = keras.models.load_model
    monkeypatch.setattr(keras.models, "load_model", lambda path, **kw: opened.append(path) or real(path, **kw))
    reference = keras_reference(Bundle.open(bundle))
    assert np.asarray(reference(np.zeros((1, 4, 1), np.float32))).shape == (1, 1)
    assert len(opened) == 1 and bundle not in opened[0].parents  # never the bundle's own file
    data = bytearray((bundle / "model.keras").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "model.keras").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model.keras"):
        keras_reference(Bundle.open(bundle))
