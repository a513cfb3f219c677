"""The wrapper-made LiteRT interpreter (runtime/backends/litert_open.py) against ai_edge_litert's own Interpreter.

The window backend makes its interpreter from the C++ wrapper (cold start); every detail it reads and
every answer must be what the public Interpreter gives on the same file.
"""

import numpy as np
import pytest

from edgernn.runtime import load, optional
from edgernn.runtime.errors import ModelLoadError

from conftest import MODELS

pytestmark = pytest.mark.skipif(not optional.available("ai_edge_litert"), reason="needs ai-edge-litert")

FILES = ("model.tflite", "model.int8.tflite", "model.int16x8.tflite", "model.dynamic.tflite")


def _both(file: str):
    from ai_edge_litert.interpreter import Interpreter

    from edgernn.runtime.backends import litert

    content = (MODELS / "seed-lstm" / file).read_bytes()
    public = Interpreter(model_content=content, num_threads=1)
    public.allocate_tensors()
    return litert.interpreter(content, file), public


def _plain(details: list[dict]) -> list[dict]:
    """Details with numpy arrays as lists, so two of them compare with ==."""

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value.tolist() if isinstance(value, np.ndarray) else value

    return [plain(d) for d in details]


@pytest.mark.parametrize("file", FILES)
def test_native_details_and_signature_are_the_public_interpreters(file):
    native, public = _both(file)
    assert type(native).__name__ == "NativeInterpreter"
    assert _plain(native.get_input_details()) == _plain(public.get_input_details())
    assert _plain(native.get_output_details()) == _plain(public.get_output_details())
    assert native._get_full_signature_list() == public._get_full_signature_list()


@pytest.mark.parametrize("file", FILES)
def test_native_answers_bit_for_bit_after_a_resize(file):
    native, public = _both(file)
    inp, out = public.get_input_details()[0], public.get_output_details()[0]
    batch = 3 if inp["shape_signature"][0] == -1 else 1  # a fused-LSTM int8 file is fixed at batch 1
    for interp in (native, public):
        interp.resize_tensor_input(inp["index"], [batch, *inp["shape"][1:]])
        interp.allocate_tensors()
    x = np.random.default_rng(0).uniform(-1, 1, [batch, *inp["shape"][1:]])
    x = (x * 100).astype(inp["dtype"]) if np.issubdtype(inp["dtype"], np.integer) else x.astype(np.float32)
    answers = []
    for interp in (native, public):
        interp.reset_all_variables()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        answers.append(interp.get_tensor(out["index"]))
    assert answers[0].shape[0] == batch
    np.testing.assert_array_equal(answers[0], answers[1])


def test_load_runs_the_native_interpreter_and_a_stream_the_public_one():
    p = load(MODELS / "seed-lstm", backend="litert")
    assert p.runner.runtime_module == "ai_edge_litert._pywrap_litert_interpreter_wrapper"
    step = p.stream().model._run_step.__self__  # the step model's LiteRTStepBackend
    assert type(step._interp).__module__ == "ai_edge_litert.interpreter"


def test_a_file_litert_refuses_is_a_model_load_error_on_both_paths():
    from edgernn.runtime.backends import litert

    content = bytearray((MODELS / "seed-lstm" / "model.tflite").read_bytes())
    content[8:] = bytes(len(content) - 8)  # the identifier kept, every table gone
    for native in (True, False):
        with pytest.raises(ModelLoadError, match="LiteRT cannot load it"):
            litert.interpreter(bytes(content), "model.tflite", native=native)


def test_a_signature_name_that_is_not_utf8_is_refused_on_both_paths():
    """Interpreter.__init__ lists the signatures, which fails on a name that is not UTF-8; the wrapper-made
    interpreter lists them too, so such a file is refused alike on every install (found in review)."""
    from edgernn.runtime.backends import litert

    content = (MODELS / "seed-lstm" / "model.tflite").read_bytes()
    at = content.index(b"serving_default")
    for native in (True, False):
        assert litert.interpreter(content, "model.tflite", native=native)  # the neighbour: the name intact
        with pytest.raises(ModelLoadError, match="UnicodeDecodeError"):
            litert.interpreter(content[:at] + b"\xff" + content[at + 1 :], "model.tflite", native=native)
