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


def test_every_structure_aware_kind_changes_the_file_and_keeps_it_a_file_of_its_format():
    import random

    from structure import FORMAT_KINDS
    from structure import mutate as mutate_structure

    for fmt, suffix in (("tflite", ".tflite"), ("onnx", ".onnx"), ("numpy", ".npz")):
        data = (MODELS / "seed-gru" / f"model{suffix}").read_bytes()
        rng = random.Random(0)
        for kind in FORMAT_KINDS[fmt]:
            mutants = [mutate_structure(data, fmt, kind, rng) for _ in range(5)]
            assert all(m != data for m in mutants), kind
            magic = {
                "tflite": lambda m: m[4:8] == b"TFL3",
                "onnx": lambda m: m[:1] == data[:1],
                "numpy": lambda m: m[:2] == b"PK",
            }
            assert all(magic[fmt](m) for m in mutants), kind  # still the format: aimed at fields, not headers


def test_every_mutation_kind_changes_the_file():
    import random

    data = (MODELS / "seed-lstm" / "model.onnx").read_bytes()
    rng = random.Random(0)
    for kind in KINDS:
        mutant = mutate(data, kind, rng)
        assert mutant != data, kind
        assert (len(mutant) < len(data)) == (kind == "truncate"), kind


@pytest.mark.slow
@pytest.mark.parametrize("structured", [False, True], ids=["bytes", "structure"])
@pytest.mark.parametrize("fmt", ["onnx", "tflite", "numpy"])
def test_mutants_end_in_a_result_or_a_typed_error(fmt, structured):
    outcomes = fuzz(BUNDLES, fmt, PER_FORMAT, seed=1, structured=structured)
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
