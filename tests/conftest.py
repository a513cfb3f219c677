"""The one model zoo (cell x layout x sequence x options), seeded, built lazily and exported once.

    zoo_models["lstm-single"]        a Keras model (built on first use)
    zoo_bundles["lstm-single"]       its float32 bundle (tflite + onnx + numpy), exported on first use
    stream_zoo["lstm-stacked-seq"]   (model, bundle exported with --streaming)
    quant_bundles["gru"]             a 16-unit model of that cell with every quantized variant

Each kind of bundle is exported at most once per session, and only when a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from quant_fixtures import lstm64, lstm64_fresh, quant_bundle, shared_converter_children  # noqa: F401 - shared

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: edgernn.train.build_model arguments, or `layers` (a name in OPTION_LAYERS) after
    keras.Input((timesteps, features)) with every weight drawn at random (biases too)."""

    id: str
    cell: str
    units: tuple[int, ...] = (6,)
    timesteps: int = 4
    features: int = 1
    outputs: int = 1
    bidirectional: bool = False
    sequence: bool = False  # return_sequences=True on the last recurrent layer
    kwargs: tuple[tuple[str, Any], ...] = ()
    kind: str = "float"  # "float": exported plainly; "stream": with --streaming; "options": numpy only


ZOO = (
    ZooEntry("simple_rnn-single", "simple_rnn"),
    ZooEntry("simple_rnn-stacked", "simple_rnn", (6, 5)),
    ZooEntry("lstm-single", "lstm"),
    ZooEntry("lstm-stacked", "lstm", (6, 5)),
    ZooEntry("gru-single", "gru"),
    ZooEntry("gru-stacked", "gru", (6, 5)),
    ZooEntry("gru-reset_before", "gru", kwargs=(("reset_after", False),)),
    ZooEntry("lstm-bidirectional", "lstm", bidirectional=True),
    ZooEntry("gru-bidirectional-multi", "gru", (5,), timesteps=6, features=3, outputs=2, bidirectional=True),
    ZooEntry("simple_rnn-multi", "simple_rnn", (7,), timesteps=5, features=3, outputs=2),
    ZooEntry("simple_rnn-window", "simple_rnn", kind="stream"),
    ZooEntry("simple_rnn-stacked-seq", "simple_rnn", (6, 5), sequence=True, kind="stream"),
    ZooEntry("lstm-window-multi", "lstm", (5,), timesteps=5, features=3, outputs=2, kind="stream"),
    ZooEntry("lstm-stacked-seq", "lstm", (6, 5), sequence=True, kind="stream"),
    ZooEntry("gru-stacked-window", "gru", (6, 5), kind="stream"),
    ZooEntry("gru-reset_before-seq", "gru", sequence=True, kwargs=(("reset_after", False),), kind="stream"),
    *(
        ZooEntry(name, "mixed", timesteps=5, features=2, kind="options")
        for name in (
            "bidi-sum",
            "bidi-ave",
            "bidi-mul",
            "gru-backwards-sequence-dropout",
            "activations-no-bias",
            "more-activations",
            "biased-gru-lstm",
        )
    ),
)
BY_ID = {e.id: e for e in ZOO}
ZOO_IDS = tuple(e.id for e in ZOO if e.kind == "float")
STREAM_IDS = tuple(e.id for e in ZOO if e.kind == "stream")
OPTION_IDS = tuple(e.id for e in ZOO if e.kind == "options")
QUANT_CELLS = ("simple_rnn", "gru")  # LSTM: the LSTM(64) of tests/export/test_quantize.py


def _option_layers(name: str):
    """The layers of an "options" entry: merge modes, go_backwards, activations, no bias, sequence output."""
    from keras import layers as L

    def bidi(mode):
        return [
            L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=mode),
            L.Bidirectional(L.SimpleRNN(3), merge_mode=mode),
            L.Dense(2),
        ]

    return {
        "bidi-sum": lambda: bidi("sum"),
        "bidi-ave": lambda: bidi("ave"),
        "bidi-mul": lambda: bidi("mul"),
        "gru-backwards-sequence-dropout": lambda: [
            L.GRU(4, return_sequences=True, go_backwards=True),
            L.Dropout(0.5),
            L.Dense(3),
        ],
        "activations-no-bias": lambda: [
            L.LSTM(4, activation="relu", recurrent_activation="hard_sigmoid", return_sequences=True),
            L.GRU(
                3,
                activation="softsign",
                recurrent_activation="hard_sigmoid",
                reset_after=False,
                use_bias=False,
                return_sequences=True,
            ),
            L.SimpleRNN(3, activation="elu"),
            L.Dense(2, activation="softmax", use_bias=False),
        ],
        "more-activations": lambda: [
            L.SimpleRNN(4, activation="selu", return_sequences=True),
            L.LSTM(4, activation="softplus", recurrent_activation="silu"),
            L.Dense(4, activation="relu6"),
            L.Dense(4, activation="swish"),
            L.Dense(2, activation="exponential"),
        ],
        "biased-gru-lstm": lambda: [
            L.GRU(4, return_sequences=True),
            L.LSTM(3, return_sequences=True),
            L.GRU(3, reset_after=False),
            L.Dense(2, activation="sigmoid"),
        ],
    }[name]()


def build(entry: ZooEntry, seed: int = 7):
    """The Keras model of a zoo entry, with seeded weights (no training needed for parity)."""
    if entry.kind == "options":
        import keras

        model = keras.Sequential(
            [keras.Input((entry.timesteps, entry.features)), *_option_layers(entry.id)], name=entry.id.replace("-", "_")
        )
        rng = np.random.default_rng(11)  # every weight random, so no bias path hides behind zeros
        model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
        return model
    from edgernn.train import build_model

    return build_model(
        entry.cell,
        entry.units,
        timesteps=entry.timesteps,
        features=entry.features,
        outputs=entry.outputs,
        bidirectional=entry.bidirectional,
        return_sequences=entry.sequence,
        seed=11 if entry.kind == "stream" else seed,
        **dict(entry.kwargs),
    )


class Lazy(Mapping):
    """A read-only mapping whose values are computed on first access, once."""

    def __init__(self, keys, make: Callable[[str], Any]) -> None:
        self._keys, self._make, self._done, self._failed = tuple(keys), make, {}, {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        if key in self._failed:  # a build that failed once fails again at once, not after another export
            raise self._failed[key]
        if key not in self._done:
            try:
                self._done[key] = self._make(key)
            except Exception as exc:
                self._failed[key] = exc
                raise
        return self._done[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


@pytest.fixture(scope="session")
def zoo_models():
    """Keras models of every zoo entry, built on first use."""
    return Lazy(BY_ID, lambda key: build(BY_ID[key]))


@pytest.fixture(scope="session")
def zoo_bundles(zoo_models, tmp_path_factory):
    """Float32 bundles (tflite, onnx, numpy; numpy only for "options" entries), exported on first use."""
    from edgernn.export import export_bundle

    root = tmp_path_factory.mktemp("zoo")

    def make(key: str) -> Path:
        formats = ("numpy",) if BY_ID[key].kind == "options" else ("tflite", "onnx", "numpy")
        return export_bundle(zoo_models[key], root / key, formats=formats).path

    return Lazy(BY_ID, make)


@pytest.fixture(scope="session")
def stream_zoo(zoo_models, tmp_path_factory):
    """(model, bundle exported with --streaming) for the "stream" entries, on first use."""
    from edgernn.export import export_bundle

    root = tmp_path_factory.mktemp("stream")
    return Lazy(
        STREAM_IDS, lambda key: (zoo_models[key], export_bundle(zoo_models[key], root / key, streaming=True).path)
    )


@pytest.fixture(scope="session")
def quant_bundles(tmp_path_factory):
    """Per cell: (model, bundle) of a 16-unit model on (8, 2), fitted for 3 epochs on the sine task, with
    every quantized variant of tflite and onnx; built on first use.

    Fitted, not seeded: calibration then sees the activations of a model that has learned something
    (a seeded SimpleRNN's int8 error is 7% of its output range, a fitted one's 1.6%).
    """
    from edgernn.export import export_bundle
    from edgernn.export.formats import QUANTIZED
    from edgernn.train import build_model
    from edgernn.train.fit import Recipe, fit
    from edgernn.train.signals import sine_windows

    root = tmp_path_factory.mktemp("quant")

    def make(cell: str):
        x, y = sine_windows(1000, timesteps=8, features=2, seed=0)  # 200 calibrate GRU's int8 too loosely
        model = build_model(cell, (16,), timesteps=8, features=2, outputs=1, seed=5)
        fit(model, x, y, recipe=Recipe(cell=cell, epochs=3, batch_size=64, seed=0))
        return model, export_bundle(
            model,
            root / cell,
            formats=("tflite", "onnx"),
            representative=x,
            quantize=QUANTIZED,
        ).path

    return Lazy(QUANT_CELLS, make)


@pytest.fixture(scope="session")
def seed_bundle(zoo_bundles):
    return zoo_bundles["lstm-single"]


def random_windows(entry_or_model, batch: int, seed: int = 0) -> np.ndarray:
    shape = tuple(entry_or_model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


def installed_backends() -> list[str]:

    from helpers import installed_default_backends

    return installed_default_backends()  # not c or tflm, which run only their own artifacts


# ------------------------------------------------------------------ the matrix (tests/e2e/test_matrix.py)


def pytest_collection_modifyitems(session, config, items):
    """The matrix check reads what the other tests covered, so it runs last."""
    last = [i for i in items if i.get_closest_marker("matrix_check")]
    items[:] = [i for i in items if not i.get_closest_marker("matrix_check")] + last


def pytest_configure(config):
    config.addinivalue_line("markers", "matrix_check: runs after every other test (see tests/e2e/test_matrix.py)")


@pytest.fixture(scope="session")
def while_seed(tmp_path_factory):
    """seed-lstm with a while_batch1 model.dynamic.tflite (tests/runtime/spinning.py), built once a session."""
    pytest.importorskip("ai_edge_litert")
    from spinning import while_bundle  # tests/runtime is on sys.path once its tests are collected

    return while_bundle(MODELS / "seed-lstm", tmp_path_factory.mktemp("while-seed") / "b")


@pytest.fixture(scope="session")
def spinning_while(while_seed, tmp_path_factory):
    """seed-lstm whose model.dynamic.tflite (a while_batch1 file) loops forever: the body never advances its counter."""
    from spinning import spinning_bundle

    return spinning_bundle(while_seed, tmp_path_factory.mktemp("while") / "b", "model.dynamic.tflite")
