"""load(..., threads=N): onnxruntime's intra-op pool, or big batches split over N copies (runtime/parallel.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from edgernn.runtime import InputError, backends, load
from edgernn.runtime.cli.main import main
from edgernn.runtime.parallel import PARALLEL_ROWS, ParallelRunner, macs_per_window, min_rows

from conftest import installed_backends


@pytest.mark.parametrize("backend", installed_backends())
def test_threads_give_the_same_answers_below_and_above_the_split(seed_bundle, backend):
    one, two = load(seed_bundle, backend=backend), load(seed_bundle, backend=backend, threads=2)
    # onnxruntime runs on its own intra-op pool; the others split big batches over copies of the model
    assert isinstance(two.runner, ParallelRunner) is (not backends.intra_op_threads(backend))
    assert two.runner.threads == 2 and not isinstance(one.runner, ParallelRunner)
    spec = one.spec
    x = np.random.default_rng(0).uniform(-1, 1, (PARALLEL_ROWS * 4 + 3, spec.timesteps, spec.features))
    x = x.astype(np.float32)
    # the zoo model is tiny: split from PARALLEL_ROWS here, to see the halves put back in order
    runners = [load(seed_bundle, backend=backend).runner for _ in range(3)]
    split = ParallelRunner(runners, PARALLEL_ROWS)
    for n in (1, PARALLEL_ROWS - 1, PARALLEL_ROWS, len(x)):  # one runner, then split in three
        np.testing.assert_array_equal(two.predict(x[:n]), one.predict(x[:n]))
        np.testing.assert_array_equal(split.run(x[:n]), one.runner.run(x[:n]))


def test_small_work_is_not_split(seed_bundle):
    """A batch is split only past PARALLEL_MACS of work: the tiny zoo model needs thousands of rows."""
    p = load(seed_bundle, backend="numpy", threads=2)
    macs = macs_per_window(p.manifest)
    assert macs and p.runner.rows == min_rows(macs) > PARALLEL_ROWS
    assert min_rows(None) == PARALLEL_ROWS and min_rows(10**9) == PARALLEL_ROWS


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
