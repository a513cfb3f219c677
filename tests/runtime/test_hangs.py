"""A LiteRT call that never ends: it cannot be cancelled (LiteRT's Python Interpreter has no cancellation
call), so the other threads of that Predictor get a ModelRunError after BUSY_SECONDS instead of waiting
forever, and Ctrl-C still ends the command line (exit 130, no traceback). The hang is real: a shipped
while_batch1 file whose loop body never advances its counter (tests/runtime/spinning.py), run in a child
process so the spinning native thread dies with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import MODELS

SEED = MODELS / "seed-lstm"

TWO_THREADS = """
import json, os, queue, sys, threading
import numpy as np
from edgernn.runtime import EdgeRNNError, load
p = load(sys.argv[1], backend="litert", variant="dynamic")
p.runner.busy_seconds = 1.0
results = queue.Queue()
def call():
    try:
        results.put(["ok", p.predict(np.ones((1, 4, 1), np.float32)).tolist()])
    except EdgeRNNError as exc:
        results.put([type(exc).__name__, str(exc)])
for _ in range(2):
    threading.Thread(target=call, daemon=True).start()
print(json.dumps([results.get(timeout=120), results.get(timeout=120) if sys.argv[2] == "both" else None]), flush=True)
os._exit(0)  # a thread may still spin in native code
"""


def _two_threads(bundle, wait: str) -> list:
    out = subprocess.run(
        [sys.executable, "-c", TWO_THREADS, str(bundle), wait], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_a_hung_litert_call_does_not_block_the_other_threads_forever(spinning_while, while_seed):
    ok = _two_threads(while_seed, "both")  # the neighbour: the unmodified while_batch1 file, two threads, both answer
    assert [r[0] for r in ok] == ["ok", "ok"] and ok[0][1] == ok[1][1]
    first, _ = _two_threads(spinning_while, "first")  # one thread hangs in invoke; the other gives up, typed
    assert first[0] == "ModelRunError", first
    assert "another call has held this LiteRT interpreter for more than 1 s" in first[1]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_spinning(proc: subprocess.Popen, marker: str) -> None:
    """Until the child has mapped `marker` (the runtime's library) and then burned 1.5 CPU seconds more:
    the load of a 5 KB bundle takes milliseconds, so by then it is inside the endless invoke."""
    since = None
    for _ in range(1200):
        assert proc.poll() is None, proc.communicate()
        if since is None:
            with open(f"/proc/{proc.pid}/maps") as fh:
                since = _cpu_seconds(proc.pid) if marker in fh.read() else None
        elif _cpu_seconds(proc.pid) - since > 1.5:
            return
        time.sleep(0.05)
    raise AssertionError("the child never reached the model")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc to see the child spin")
def test_ctrl_c_ends_the_cli_during_a_native_hang_with_exit_130_and_no_traceback(spinning_while):
    command = [sys.executable, "-m", "edgernn.runtime", "predict", str(spinning_while), "1", "1", "1", "1"]
    proc = subprocess.Popen(
        [*command, "--backend", "litert", "--variant", "dynamic"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_spinning(proc, "_pywrap_litert_interpreter_wrapper")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "edgernn predict: interrupted" in err and "Traceback" not in err


def test_the_interrupt_watcher_leaves_a_normal_cli_run_alone():
    """The neighbour: the same command on the unmodified file answers and exits 0."""
    command = [sys.executable, "-m", "edgernn.runtime", "predict", str(SEED), "6", "7", "8", "9"]
    out = subprocess.run([*command, "--backend", "litert", "--variant", "dynamic"], capture_output=True, text=True)
    assert out.returncode == 0 and float(out.stdout) > 0, out.stderr
