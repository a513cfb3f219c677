"""load(..., threads=N): onnxruntime's intra-op pool, or big batches split over N copies (runtime/parallel.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from edgernn.runtime import InputError, backends, load
from edgernn.runtime.cli.main import main
from edgernn.runtime.parallel import PARALLEL_ROWS, ParallelRunner

from conftest import installed_backends


@pytest.mark.parametrize("backend", installed_backends())
def test_threads_give_the_same_answers_below_and_above_the_split(seed_bundle, backend):
    one, two = load(seed_bundle, backend=backend), load(seed_bundle, backend=backend, threads=2)
    # onnxruntime runs on its own intra-op pool; the others split batches over copies of the model
    assert isinstance(two.runner, ParallelRunner) is (not backends.intra_op_threads(backend))
    assert two.runner.threads == 2 and not isinstance(one.runner, ParallelRunner)
    spec = one.spec
    x = np.random.default_rng(0).uniform(-1, 1, (PARALLEL_ROWS * 4 + 3, spec.timesteps, spec.features))
    x = x.astype(np.float32)
    for n in (1, PARALLEL_ROWS - 1, PARALLEL_ROWS, len(x)):  # one runner, then split in two
        np.testing.assert_array_equal(two.predict(x[:n]), one.predict(x[:n]))


def test_zero_means_every_core_and_bad_counts_are_refused(seed_bundle):
    p = load(seed_bundle, backend="numpy", threads=0)
    cores = os.cpu_count() or 1
    assert (p.runner.threads if cores > 1 else 1) == cores
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(InputError, match="threads must be"):
            load(seed_bundle, backend="numpy", threads=bad)


def test_predict_and_validate_take_threads(seed_bundle, capsys):
    assert main(["predict", str(seed_bundle), "--backend", "numpy", "--threads", "2", "0.1", "0.2", "0.3", "0.4"]) == 0
    single = capsys.readouterr().out
    assert main(["predict", str(seed_bundle), "--backend", "numpy", "0.1", "0.2", "0.3", "0.4"]) == 0
    assert capsys.readouterr().out == single
    assert main(["validate", str(seed_bundle), "--backend", "numpy", "--threads", "2"]) == 0
