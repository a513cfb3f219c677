"""Shared fixtures: a small model zoo with seeded weights, each exported once per session."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: how to build it (edgernn.train.build_model arguments)."""

    id: str
    cell: str
    units: tuple[int, ...] = (6,)
    timesteps: int = 4
    features: int = 1
    outputs: int = 1
    bidirectional: bool = False
    kwargs: dict = field(default_factory=dict)


ZOO = (
    ZooEntry("simple_rnn-single", "simple_rnn"),
    ZooEntry("simple_rnn-stacked", "simple_rnn", (6, 5)),
    ZooEntry("lstm-single", "lstm"),
    ZooEntry("lstm-stacked", "lstm", (6, 5)),
    ZooEntry("gru-single", "gru"),
    ZooEntry("gru-stacked", "gru", (6, 5)),
    ZooEntry("gru-reset_before", "gru", kwargs={"reset_after": False}),
    ZooEntry("lstm-bidirectional", "lstm", bidirectional=True),
    ZooEntry("gru-bidirectional-multi", "gru", (5,), timesteps=6, features=3, outputs=2, bidirectional=True),
    ZooEntry("simple_rnn-multi", "simple_rnn", (7,), timesteps=5, features=3, outputs=2),
)
ZOO_IDS = tuple(e.id for e in ZOO)


def build(entry: ZooEntry, seed: int = 7):
    from edgernn.train import build_model

    return build_model(entry.cell, entry.units, timesteps=entry.timesteps, features=entry.features,
                       outputs=entry.outputs, bidirectional=entry.bidirectional, seed=seed, **entry.kwargs)


@pytest.fixture(scope="session")
def zoo_models():
    """Keras models of the zoo, built once (seeded weights, no training needed for parity)."""
    return {e.id: build(e) for e in ZOO}


@pytest.fixture(scope="session")
def zoo_bundles(zoo_models, tmp_path_factory):
    """Each zoo model exported once to a bundle (tflite + onnx)."""
    from edgernn.export import export_bundle

    root = tmp_path_factory.mktemp("zoo")
    return {name: export_bundle(model, root / name) for name, model in zoo_models.items()}


@pytest.fixture(scope="session")
def seed_bundle(zoo_bundles):
    return zoo_bundles["lstm-single"]


def random_windows(entry_or_model, batch: int, seed: int = 0) -> np.ndarray:
    shape = tuple(entry_or_model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


def installed_backends() -> list[str]:
    from edgernn.runtime import backends

    return backends.installed()
