"""Isolated conversions share one child per export (export/formats/tflite/isolated.py): TensorFlow is imported
once, not per int8 file; a conversion that crashes its child costs that conversion, and the next one gets a
fresh child that answers like a child of its own would."""

import os

import numpy as np
import pytest

from edgernn.export.formats.tflite import isolated
from edgernn.export.formats.tflite.isolated import convert_isolated, converter_pool
from edgernn.runtime import ExportError, backends
from edgernn.runtime.compare import compare, output_range, tolerance


@pytest.fixture(autouse=True)
def own_pool(monkeypatch):
    """These tests judge the pool itself: the session's shared one (conftest) steps aside until each ends."""
    monkeypatch.setattr(isolated, "_POOL", None)


@pytest.fixture
def spawned(monkeypatch) -> list:
    """The Popen of every converter child started during the test, in order."""
    children = []
    real_init = isolated._Child.__init__

    def init(self, module):
        real_init(self, module)
        children.append(self.proc)

    monkeypatch.setattr(isolated._Child, "__init__", init)
    return children


def _child_pid() -> int:
    return isolated._POOL[isolated.__spec__.name].proc.pid


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_one_child_converts_in_turn_survives_a_crash_and_ends_with_the_pool(zoo_models, seed_bundle):
    from edgernn.runtime import Bundle

    model = zoo_models["lstm-single"]
    calib = np.random.default_rng(0).uniform(-1, 1, (16, 4, 1)).astype(np.float32)
    alone = convert_isolated(model, "int8", "unrolled", calib)  # outside a pool: a child of its own
    with converter_pool():
        first = convert_isolated(model, "int8", "unrolled", calib)
        pid = _child_pid()
        assert convert_isolated(model, "int16x8", "unrolled", calib) and _child_pid() == pid  # the same child
        with pytest.raises(ExportError, match=r"crashed \(SIG"):  # calibrating WHILE segfaults TF 2.21's converter
            convert_isolated(model, "int8", "while_batch1", calib)
        assert _gone(pid) and isolated.__spec__.name not in isolated._POOL
        again = convert_isolated(model, "int8", "unrolled", calib)
        assert _child_pid() != pid
        last = _child_pid()
    assert _gone(last) and isolated._POOL is None
    assert first == again == alone  # calibration is deterministic: a served child writes what a lone one does
    bundle = Bundle.open(seed_bundle)
    entry = next(a for a in bundle.manifest.entries if a.file == "model.tflite").with_(variant="int8", batch=None)
    ref = np.asarray(model(calib))
    got = backends.open_window("litert", again, entry, bundle.manifest.spec).run(calib)
    assert compare(ref, got, tolerance("tflite", "int8", output_range(ref)))


def test_a_converter_error_in_a_served_child_is_that_conversions_error_and_the_child_serves_on(zoo_models):
    model = zoo_models["lstm-single"]
    with converter_pool():
        with pytest.raises(ExportError, match="no-such-form"):
            convert_isolated(model, "int8", "no-such-form", np.zeros((4, 4, 1), np.float32))
        pid = _child_pid()
        assert convert_isolated(model, "float16", "unrolled", None) and _child_pid() == pid


def test_an_interrupt_during_a_conversion_ends_the_child_too(zoo_models, monkeypatch, spawned):
    """Ctrl-C in a notebook reaches the parent alone: the child it was waiting for must not live on idle,
    holding TensorFlow (it is neither in the pool nor closed unless convert_isolated ends it)."""
    real_reply = isolated._Child._reply

    def reply(self, deadline, what):
        real_reply(self, deadline, what)  # the job really ran; the interrupt lands as its answer arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(isolated._Child, "_reply", reply)
    with converter_pool(), pytest.raises(KeyboardInterrupt):
        convert_isolated(zoo_models["lstm-single"], "float16", "unrolled", None)
    (proc,) = spawned
    assert proc.returncode is not None and _gone(proc.pid)


def test_an_export_shares_one_child_and_ends_it(zoo_models, tmp_path, spawned):
    """export_bundle enters a pool of its own (the session's is set aside here): its int8 and int16x8
    calibrations share one child, which is gone when the export returns."""
    from edgernn.export import export_bundle

    calib = np.random.default_rng(0).uniform(-1, 1, (32, 4, 1)).astype(np.float32)
    bundle = export_bundle(
        zoo_models["lstm-single"],
        tmp_path / "b",
        formats=("tflite",),
        representative=calib,
        quantize=("int8", "int16x8"),
    )
    assert bundle.manifest.artifacts(variant="int8")  # int16x8 converts too (kept or refused on its error)
    assert len(spawned) == 1  # without export_bundle's pool each conversion has a child of its own
    assert isolated._POOL is None and all(p.returncode is not None and _gone(p.pid) for p in spawned)
