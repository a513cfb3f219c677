"""Every (cell, format, variant, role, backend) the registries allow is proven by a test or has a reason.

The combinations come from the registries themselves (train's cells, export's Format records with
their variants and step writers, the runtime's backend registry), so a new format, variant or
backend shows up here as missing until a test covers it. Coverage is what the tests recorded
(helpers.covered) after their value assertions passed in this session, not a list kept here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edgernn.export import FORMATS
from edgernn.runtime import backends
from edgernn.train import CELLS

from conftest import ROOT
from helpers import COVERED

SIMPLE_RNN_ONNX_INT8 = (
    "onnxruntime's quantizer leaves the weights of ONNX's RNN op (the native SimpleRNN form) in float, "
    "so every int8 candidate is over 60% of the float32 file and export refuses it and says so "
    "(test_gru_and_simple_rnn_variants_match_keras_on_fresh_windows checks the refusal)"
)
QUANTIZED_STEP = (
    "no step models of quantized or tflm variants are written: --quantize applies to window models, and step "
    "models are proven in float32 only (export/streaming.py)"
)


def combinations() -> set[tuple[str, str, str, str, str]]:
    out = set()
    for cell in CELLS:
        for fmt in FORMATS.values():
            roles = ("model", "step") if fmt.step_writer else ("model",)
            for variant in ("float32", *fmt.variants):
                for role in roles:
                    out |= {
                        (cell, fmt.name, variant, role, b) for b in fmt.backends if backends.runs_variant(b, variant)
                    }
    return out


def reasons() -> dict[tuple[str, str, str, str, str], str]:
    out = {c: QUANTIZED_STEP for c in combinations() if c[3] == "step" and c[2] != "float32"}
    out[("simple_rnn", "onnx", "int8", "model", "onnxruntime")] = SIMPLE_RNN_ONNX_INT8
    return out


# Files `make test` leaves to their own targets (make test-ray, make test-backends): they record no coverage,
# so ignoring them still judges the whole matrix (before this, make test's --ignore made this test skip).
OWN_TARGETS = {ROOT / "tests" / "data" / "test_ray_engine.py", ROOT / "tests" / "export" / "test_other_backends.py"}


def _narrowed(config) -> str:
    """Why this session runs a subset of the suite ('' when it runs all of it): coverage cannot be judged then."""
    opt = config.option
    whole = {ROOT.resolve(), (ROOT / "tests").resolve()}
    if opt.keyword or opt.markexpr:
        return "-k/-m select a subset"
    ignored = {Path(p).resolve() for p in getattr(opt, "ignore", None) or []}
    if (
        getattr(opt, "deselect", None)
        or getattr(opt, "ignore_glob", None)
        or ignored - {p.resolve() for p in OWN_TARGETS}
    ):
        return "tests were deselected or ignored"
    if any("::" in str(a) or Path(str(a)).resolve() not in whole for a in config.args):
        return f"the paths {config.args} name part of the suite"
    return ""


@pytest.mark.matrix_check
def test_matrix_is_complete(request):
    why = _narrowed(request.config)
    if why:
        pytest.skip(f"the matrix is judged on the whole suite (make test), and {why}")
    if request.session.items[-1] is not request.node:  # --ff/--nf reorder after conftest's hook
        pytest.skip("the matrix is judged after every other test; this run put another test last")
    assert len(backends.REGISTRY) == len({b for f in FORMATS.values() for b in f.backends})
    all_combos, written = combinations(), reasons()
    assert all(text.strip() for text in written.values())
    stale = sorted(c for c in written if c in COVERED)
    assert not stale, f"combinations with a reason that a test now covers (drop the reason): {stale}"
    unknown = sorted(c for c in written if c not in all_combos)
    assert not unknown, f"reasons for combinations the registries do not have: {unknown}"
    missing = sorted(all_combos - COVERED - set(written))
    assert not missing, f"combinations with neither a passing test nor a written reason: {missing}"
