"""Mutation fuzzing: hostile variations of real artifacts end in a result or a typed error, never a crash.

Each mutant is loaded with verify=False (the sha256 would stop every one of them otherwise) in a worker
subprocess, so a segfault or a hang is observed and attributed instead of killing the test run.
fuzz/run.py runs the same harness at 1,000 mutants per format and writes fuzz/RESULTS.md.
"""

from __future__ import annotations

import sys

import pytest

from conftest import MODELS, ROOT

sys.path.insert(0, str(ROOT / "fuzz"))
from harness import KINDS, counts, fuzz, is_failure, mutate  # noqa: E402

BUNDLES = sorted(p for p in MODELS.iterdir() if (p / "manifest.json").exists())
PER_FORMAT = 300


def test_every_mutation_kind_changes_the_file():
    import random

    data = (MODELS / "seed-lstm" / "model.onnx").read_bytes()
    rng = random.Random(0)
    for kind in KINDS:
        mutant = mutate(data, kind, rng)
        assert mutant != data, kind
        assert (len(mutant) < len(data)) == (kind == "truncate"), kind


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite", "numpy"])
def test_mutants_end_in_a_result_or_a_typed_error(fmt):
    outcomes = fuzz(BUNDLES, fmt, PER_FORMAT, seed=1)
    tally = counts(outcomes)
    print(f"{fmt}: {dict(tally)}")
    assert sum(tally.values()) == PER_FORMAT
    assert [(m.kind, m.bundle.name, o) for m, o in outcomes if is_failure(o)] == []
    # The harness must see both sides, or it proves nothing: some mutants run, most are refused.
    assert tally["result"] > 0 and tally["ModelLoadError"] > 0


def test_harness_attributes_a_crash_and_a_hang_to_their_mutants(tmp_path):
    """The neighbour of the fuzz test: a worker that dies or stops answering is seen, not missed."""
    from harness import SELFTEST, Mutant, _run_shard

    good = (MODELS / "seed-lstm" / "model.onnx").read_bytes()
    contents = [good, SELFTEST[0], good, SELFTEST[1], good]
    mutants = []
    for i, data in enumerate(contents):
        (tmp_path / f"{i}.bin").write_bytes(data)
        mutants.append(Mutant(i, MODELS / "seed-lstm", "onnx", "selftest", tmp_path / f"{i}.bin"))
    results = _run_shard(mutants, timeout=3)
    assert results == {0: "result", 1: "signal:11", 2: "result", 3: "timeout", 4: "result"}
