"""Mutation fuzzing of bundle artifacts: every mutant must end in a result or a typed edgernn error.

The parent writes mutants (bit flips, byte overwrites, truncations, chunk swaps) of a bundle's
.onnx/.tflite/.npz to disk and hands them to worker subprocesses in batches. A worker loads each mutant
with `verify=False` (so the runtime's own parsers see it, not just the hash check), predicts, checks
that a good model loaded beside it still answers exactly as before, and prints one JSON line per
mutant. A worker that dies by a signal or stops answering within the timeout is restarted on the
rest of its batch, and the mutant it was on is recorded as `signal:N` or `timeout`.

Run as a worker: python harness.py worker BUNDLE FORMAT BACKEND MUTANT...
"""

from __future__ import annotations

import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from edgernn.runtime.backends import backends_for
from edgernn.runtime.manifest import SUFFIXES

BACKENDS = {fmt: backends_for(fmt)[0] for fmt in SUFFIXES}  # the format registry's, one backend each
FILES = {fmt: f"model{suffix}" for fmt, suffix in SUFFIXES.items()}
KINDS = ("bitflip", "bytes", "truncate", "chunk_swap")
MEMORY_LIMIT = 4 << 30  # a mutant that asks for absurd tensors gets a failed allocation, not the machine
SELFTEST = (b"edgernn-fuzz-selftest:segv", b"edgernn-fuzz-selftest:hang")
FAILURES = ("signal:", "timeout", "untyped:", "reference_changed", "rss:")
MAX_RSS_KB = 1 << 20  # a mutant that takes the worker past 1 GB resident is a failure (then a fresh worker)
RESTART = 75  # the worker's exit code after it reported such a mutant: start a new one, blame nobody


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One mutant of `data` of the given kind."""
    buf = bytearray(data)
    n = len(buf)
    if kind == "bitflip":
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(n)] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    elif kind == "truncate":
        buf = buf[: rng.randrange(n)]
    elif kind == "chunk_swap":
        size = rng.randint(1, max(1, min(256, n // 4)))
        a = rng.randrange(0, n - 2 * size + 1)
        b = rng.randrange(a + size, n - size + 1)
        buf[a : a + size], buf[b : b + size] = buf[b : b + size], buf[a : a + size]
    else:
        raise ValueError(f"unknown mutation kind {kind!r}; expected one of {KINDS}")
    return bytes(buf)


@dataclass(frozen=True)
class Mutant:
    index: int
    bundle: Path
    fmt: str
    kind: str
    path: Path


def write_mutants(
    bundles: list[Path], fmt: str, count: int, seed: int, folder: Path, kinds: tuple[str, ...] = KINDS
) -> list[Mutant]:
    """`count` mutants of the `fmt` artifact, spread round-robin over `bundles` and `kinds` (the byte
    kinds, or structure.FORMAT_KINDS[fmt])."""
    import structure  # the parent's side only (the worker runs -I, without this folder on sys.path)

    rng = random.Random(f"{seed}-{fmt}-{kinds[0]}")
    folder.mkdir(parents=True, exist_ok=True)
    originals = {b: (b / FILES[fmt]).read_bytes() for b in bundles}
    out = []
    for i in range(count):
        bundle, kind = bundles[i % len(bundles)], kinds[(i // len(bundles)) % len(kinds)]
        path = folder / f"{fmt}-{i:05d}.bin"
        data = originals[bundle]
        path.write_bytes(mutate(data, kind, rng) if kind in KINDS else structure.mutate(data, fmt, kind, rng))
        out.append(Mutant(i, bundle, fmt, kind, path))
    return out


# ---------------------------------------------------------------- worker (runs in the subprocess)


def _outcome(bundle: Path, backend: str, x: list) -> tuple[str, str]:
    from edgernn.runtime import EdgeRNNError, load

    try:
        predictor = load(bundle, backend=backend, verify=False)
        for batch in x:
            predictor.predict(batch, allow_nonfinite=True)
        return "result", ""
    except EdgeRNNError as exc:
        return type(exc).__name__, str(exc)[:300]
    except Exception as exc:  # exactly what must never happen: an untyped error escaped
        return f"untyped:{type(exc).__name__}", str(exc)[:300]


def _peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: after fork + exec that still holds the
    parent's peak (a pytest process with TF loaded is 1 GB before the worker has done anything)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


def worker(source: Path, fmt: str, backend: str, paths: list[str]) -> None:
    """Load each mutant in a private copy of `source`; print one JSON line per mutant."""
    import resource

    import numpy as np

    from edgernn.runtime import load

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    report = os.fdopen(os.dup(1), "w")  # the protocol channel; native libraries may print to fd 1
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    work = Path(tempfile.mkdtemp(prefix="edgernn-fuzz-"))
    try:
        for name in ("manifest.json", "golden.npz", FILES[fmt]):
            shutil.copy(source / name, work / name)
        reference = load(source, backend=backend)
        spec = reference.spec
        rng = np.random.default_rng(0)
        x = [rng.uniform(-5, 5, (b, spec.timesteps, spec.features)).astype(np.float32) for b in (3, 1)]
        expected = reference.predict(x[0])
        for path in paths:
            data = Path(path).read_bytes()
            if data == SELFTEST[0]:  # lets the tests prove that crashes and hangs are caught and attributed
                os.kill(os.getpid(), signal.SIGSEGV)
            if data == SELFTEST[1]:
                time.sleep(3600)
            (work / FILES[fmt]).write_bytes(data)
            outcome, detail = _outcome(work, backend, x)
            if not np.array_equal(reference.predict(x[0]), expected):
                outcome = "reference_changed"
            rss = _peak_rss_kb()
            outcome = f"rss:{rss >> 10}MB" if rss > MAX_RSS_KB else outcome
            print(json.dumps({"path": path, "outcome": outcome, "detail": detail}), file=report, flush=True)
            if rss > MAX_RSS_KB:  # the peak never goes down: the next mutants need a fresh worker
                sys.exit(RESTART)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- parent


def _lines(proc: subprocess.Popen, first_wait: float, timeout: float):
    """Yield the worker's report lines; stop at EOF, or yield None once nothing came within the timeout.

    Reads the pipe unbuffered: a buffered reader could hold a finished line while select() waits."""
    fd, buf, wait = proc.stdout.fileno(), b"", first_wait
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            while b"\n" not in buf:
                deadline = time.monotonic() + wait
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    yield None
                    return
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            wait = timeout
            yield line


def _run_shard(mutants: list[Mutant], timeout: float) -> dict[int, str]:
    """Run one (bundle, format) shard in workers, restarting after a crash or hang."""
    results: dict[int, str] = {}
    pending = list(mutants)
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    while pending:
        first = pending[0]
        cmd = [
            sys.executable,
            "-I",  # a mutant's folder or the working directory never reaches the worker's sys.path
            __file__,
            "worker",
            str(first.bundle),
            first.fmt,
            BACKENDS[first.fmt],
            *[str(m.path) for m in pending],
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0)
        by_path = {str(m.path): m for m in pending}
        culprit = None
        for line in _lines(proc, timeout + 10, timeout):  # the first mutant also pays the imports
            if line is None:
                proc.kill()
                culprit = "timeout"
                break
            row = json.loads(line)
            mutant = by_path[row["path"]]
            results[mutant.index] = row["outcome"]
            pending.remove(mutant)
            if not pending:
                break
        proc.wait()
        proc.stdout.close()
        if pending and culprit is None and proc.returncode == RESTART:
            continue  # it reported its last mutant (over the RSS bound) and left for a fresh worker
        if pending:  # the worker stopped on the first mutant it did not report
            if culprit is None:
                culprit = f"signal:{-proc.returncode}" if proc.returncode < 0 else f"exit:{proc.returncode}"
            results[pending.pop(0).index] = culprit
    return results


def is_failure(outcome: str) -> bool:
    """A signal, a hang, an untyped exception, a disturbed neighbour model, or a worker that exited."""
    return outcome.startswith(FAILURES) or outcome.startswith("exit:")


def fuzz(
    bundles: list[Path],
    fmt: str,
    count: int,
    *,
    seed: int = 0,
    jobs: int = 2,
    timeout: float = 20.0,
    batch: int = 50,
    structured: bool = False,
) -> list[tuple[Mutant, str]]:
    """Run `count` mutants of `fmt` over `bundles` (byte-level, or structure-aware when `structured`);
    return each mutant with its outcome."""
    import structure

    folder = Path(tempfile.mkdtemp(prefix=f"edgernn-mutants-{fmt}-"))
    kinds = structure.FORMAT_KINDS[fmt] if structured else KINDS
    try:
        mutants = write_mutants([Path(b) for b in bundles], fmt, count, seed, folder, kinds)
        shards = []
        for bundle in bundles:
            mine = [m for m in mutants if m.bundle == Path(bundle)]
            shards += [mine[i : i + batch] for i in range(0, len(mine), batch)]
        results: dict[int, str] = {}
        with ThreadPoolExecutor(jobs) as pool:
            for part in pool.map(lambda s: _run_shard(s, timeout), shards):
                results.update(part)
        return [(m, results[m.index]) for m in mutants]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def counts(outcomes: list[tuple[Mutant, str]]) -> Counter:
    return Counter(outcome for _, outcome in outcomes)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    worker(Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:])
