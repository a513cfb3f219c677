"""Run the README's front-page commands literally on a fresh clone and check what they print.

    python benchmarks/fresh_clone.py [--repo .] [--keep]

Clones the repository (committed state) into a temp folder, runs `make demo` and `make test` there
(they create .venv from PyPI), then every `.venv/bin/edgernn` line of the README's first sh blocks and
its Python block, and checks: predict answers about 10, validate exits 0, the Python block prints two
numbers about 10. Skips with a printed reason when PyPI cannot be reached. Slow (a venv with
TensorFlow, the demo, the test suite): `make fresh-clone` runs it; CI may run it as its own target.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def online(host: str = "pypi.org") -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
        return True
    except OSError:
        return False


def blocks(readme: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", readme, flags=re.S)


def run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    print(f"$ {cmd}", flush=True)
    done = subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True, timeout=3600)
    print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", flush=True)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    parser.add_argument("--skip", action="append", default=[], metavar="CMD", help="a front-page command not to run")
    args = parser.parse_args()
    if not online():
        print("SKIP: PyPI is not reachable; a fresh clone cannot install its .venv")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="edgernn-clone-"))
    clone = tmp / "edgernn"
    failures = []
    try:
        subprocess.run(["git", "clone", "-q", str(args.repo), str(clone)], check=True)
        readme = (clone / "README.md").read_text()
        sh = [line.split("#")[0].strip() for b in blocks(readme, "sh") for line in b.splitlines()]
        for cmd in [c for c in sh if c and c not in args.skip]:
            done = run(cmd, clone)
            if done.returncode != 0:
                failures.append(f"{cmd}: exit {done.returncode}")
            elif " predict " in cmd and not abs(float(done.stdout.split()[0]) - 10) < 1:
                failures.append(f"{cmd}: printed {done.stdout.strip()!r}, expected about 10")
        code = blocks(readme, "python")[0]
        done = subprocess.run([str(clone / ".venv/bin/python"), "-c", code], cwd=clone, capture_output=True, text=True)
        values = done.stdout.split()
        if done.returncode != 0 or not all(abs(float(v) - 10) < 1 for v in values[:2]):
            failures.append(
                f"README python block: exit {done.returncode}, printed {done.stdout!r} {done.stderr[-500:]}"
            )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(failures) or "fresh clone: every front-page command worked as written")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
