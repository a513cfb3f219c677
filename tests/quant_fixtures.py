"""The acceptance model of issues 3 and 18 and its quantized bundle, trained once per session (the
conftest imports these fixtures; test_quantize.py, test_int8_loop.py and test_loop_records.py use them),
and the converter children every export of the session shares."""

from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def shared_converter_children() -> Iterator[None]:
    """Every export of the session shares the isolated converter children (export_bundle's pool nests in
    this one), as a user's loop over models inside `converter_pool()` does: each would import TF again
    (~4 s). tests/export/test_converter_pool.py, which judges the pool itself, sets it aside."""
    try:
        from edgernn.export.formats.tflite.isolated import converter_pool
    except ImportError:  # a runtime-only install (benchmarks/clean_install.py runs tests/runtime there)
        yield
        return
    with converter_pool():
        yield


@pytest.fixture(scope="session")
def lstm64():
    """The acceptance model of issues 3 and 18: LSTM(64) on (24, 3), fitted 3 epochs on the sine task; with
    its training windows."""
    from edgernn.train import build_model
    from edgernn.train.fit import Recipe, fit
    from edgernn.train.signals import sine_windows

    x, y = sine_windows(2000, seed=0)
    model = build_model("lstm", 64, timesteps=24, features=3, seed=0)
    fit(model, x, y, recipe=Recipe(cell="lstm", epochs=3, batch_size=64, seed=0))
    return model, x


@pytest.fixture(scope="session")
def quant_bundle(lstm64, tmp_path_factory):
    from edgernn.export import export_bundle
    from edgernn.export.formats import QUANTIZED

    model, x = lstm64
    return export_bundle(model, tmp_path_factory.mktemp("quant") / "lstm64", representative=x, quantize=QUANTIZED).path


@pytest.fixture(scope="session")
def lstm64_fresh(lstm64):
    """Windows neither calibration nor the held-out split saw, with Keras's answers."""
    from edgernn.train.signals import sine_windows

    x, _ = sine_windows(256, seed=99)
    return x, np.asarray(lstm64[0](x, training=False))
