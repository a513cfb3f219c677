"""Every conformance case passes on every format x backend within 1e-5 of Keras, or is refused with a
reason (the whole model's, or per format in the manifest); a hole (neither) fails.

The cases are peers' own test configurations (each cites its source) and issue 13's zoo.
"""

from __future__ import annotations

import pytest

from edgernn.runtime import backends
from edgernn.train import CELLS

from .cases import CASES
from .run import run_case
from helpers import covered

CONVERTER_FORMATS = ("tflite", "onnx")  # prove, don't whitelist: these take any layer their converters can
ONE_OUTPUT = ("a layer's main output only", "merge_mode None")  # numpy's refusal of state outputs and merge None


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("conformance")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_passes_or_is_refused_with_a_reason(case, root):
    out = run_case(case, root)
    if case.refused:
        assert case.refused in out.refused, out.refused
        assert case.peer, "a refused case names the peer that supports it (or none)"
        return
    assert not out.refused, out.refused
    assert out.results, "no installed backend ran the case"
    for (fmt, role, backend), result in out.results.items():
        assert result.startswith("ok ") or (result.startswith("refused: ") and "missing" not in result), (
            fmt,
            role,
            backend,
            result,
        )
        if fmt in CONVERTER_FORMATS or (fmt == "numpy" and not any(w in result for w in ONE_OUTPUT)):
            assert result.startswith("ok "), (fmt, backend, result)  # every layer of the zoo has a numpy kernel
    assert out.worst <= 1e-5
    for fmt, role, backend in (key for key, result in out.results.items() if result.startswith("ok ")):
        if out.cell in CELLS:  # the completeness matrix (tests/e2e/test_matrix.py) counts these cases too
            covered(out.cell, fmt, "float32", role, backend)
    if case.streaming:
        steps = {f for f, role, _ in out.results if role == "step"}
        assert steps >= {
            f for f in ("tflite", "onnx", "numpy") if any(backends.available(b) for b in backends.backends_for(f))
        }
