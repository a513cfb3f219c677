"""load() pauses the garbage collector and always leaves it as it found it (runtime/__init__.py, _no_gc):
enabled or disabled, after a failed load too, and an application's frozen objects stay frozen.
(The first load of a fresh process, which also promotes its objects: tests/runtime/test_cold_imports.py.)"""

from __future__ import annotations

import gc

import pytest

from edgernn.runtime import ManifestError, load

from conftest import MODELS


@pytest.fixture
def collector():
    """The collector's state restored after each test, whatever it does to it."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_no_collection_runs_inside_a_load_and_the_collector_is_enabled_after(collector):
    gc.enable()
    seen: list[int] = []

    def spy(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(spy)
    try:
        p = load(MODELS / "seed-lstm", backend="numpy")
    finally:
        gc.callbacks.remove(spy)
    assert seen == [] and gc.isenabled()
    assert p.predict([[[6.0], [7.0], [8.0], [9.0]]]).shape == (1, 1)


def test_a_disabled_collector_stays_disabled(collector):
    gc.disable()
    load(MODELS / "seed-lstm", backend="numpy")
    assert not gc.isenabled()


def test_a_failed_load_leaves_the_collector_enabled(collector, tmp_path):
    gc.enable()
    with pytest.raises(ManifestError):
        load(tmp_path, backend="numpy")  # no manifest.json
    assert gc.isenabled()


def test_objects_the_application_froze_stay_frozen(collector):
    gc.enable()
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    load(MODELS / "seed-lstm", backend="numpy")
    assert gc.get_freeze_count() == frozen and gc.isenabled()
