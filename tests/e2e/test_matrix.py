"""Every (cell, format, variant, role, backend) the registries allow is proven by a test or has a reason.

The combinations come from the registries themselves (train's cells, export's Format records with
their variants and step writers, the runtime's backend registry), so a new format, variant or
backend shows up here as missing until a test covers it. Coverage is what the tests recorded
(helpers.covered) after their value assertions passed in this session, not a list kept here.
"""

from __future__ import annotations

import pytest

from edgernn.export import FORMATS
from edgernn.runtime import backends
from edgernn.train import CELLS

from conftest import ROOT
from helpers import COVERED

QUANTIZED_STEP = (
    "no quantized step models are written: --quantize applies to window models, and step "
    "models are proven in float32 only (export/streaming.py)"
)
UNROLLED_ONNX_INT8 = (
    "tf2onnx writes SimpleRNN and GRU as an unrolled graph (a Loop is slower), whose bytes are "
    "ops more than weights: every int8 candidate is over 60% of the float32 file, so export "
    "refuses it and says so (test_gru_and_simple_rnn_variants_match_keras_on_fresh_windows "
    "checks the refusal); native ONNX GRU/RNN ops are the open speed issue's"
)


def combinations() -> set[tuple[str, str, str, str, str]]:
    out = set()
    for cell in CELLS:
        for fmt in FORMATS.values():
            roles = ("model", "step") if fmt.step_writer else ("model",)
            for variant in ("float32", *fmt.variants):
                for role in roles:
                    out |= {(cell, fmt.name, variant, role, b) for b in fmt.backends}
    return out


def reasons() -> dict[tuple[str, str, str, str, str], str]:
    out = {c: QUANTIZED_STEP for c in combinations() if c[3] == "step" and c[2] != "float32"}
    for cell in ("simple_rnn", "gru"):
        out[(cell, "onnx", "int8", "model", "onnxruntime")] = UNROLLED_ONNX_INT8
    return out


def _narrowed(config) -> bool:
    """True when this session runs a subset of the suite (then coverage cannot be judged)."""
    opt = config.option
    whole = {str(ROOT / "tests"), "tests", str(ROOT)}
    return bool(
        opt.keyword
        or opt.markexpr
        or getattr(opt, "deselect", None)
        or getattr(opt, "lf", False)
        or not set(map(str, config.args)) <= whole
    )


@pytest.mark.matrix_check
def test_matrix_is_complete(request):
    if _narrowed(request.config):
        pytest.skip("the matrix is judged on the whole suite (make test); this session runs a subset")
    assert len(backends.REGISTRY) == len({b for f in FORMATS.values() for b in f.backends})
    all_combos, why = combinations(), reasons()
    assert all(text.strip() for text in why.values())
    stale = sorted(c for c in why if c in COVERED)
    assert not stale, f"combinations with a reason that a test now covers (drop the reason): {stale}"
    unknown = sorted(c for c in why if c not in all_combos)
    assert not unknown, f"reasons for combinations the registries do not have: {unknown}"
    missing = sorted(all_combos - COVERED - set(why))
    assert not missing, f"combinations with neither a passing test nor a written reason: {missing}"
