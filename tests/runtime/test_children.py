"""Every child process the project starts runs `python -I`: a `numpy.py` in the working directory (or
in a bundle someone cd'ed into) must never be imported by it."""

from __future__ import annotations

import ast
from pathlib import Path

from edgernn.runtime.cli.bench import cold_start_ms

from conftest import MODELS

ROOT = Path(__file__).resolve().parents[2]


def test_the_cold_start_child_ignores_a_numpy_py_in_the_working_directory(tmp_path, monkeypatch):
    marker = tmp_path / "planted-ran"
    (tmp_path / "numpy.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    assert cold_start_ms(MODELS / "seed-lstm", "numpy", "float32", runs=1) > 0
    assert not marker.exists()


def _python_children(path: Path) -> list[tuple[int, bool]]:
    """(line, has -I) of every argument list starting with sys.executable in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.List) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Attribute) and first.attr == "executable":
                flags = [e.value for e in node.elts[1:3] if isinstance(e, ast.Constant)]
                found.append((node.lineno, "-I" in flags))
    return found


def test_every_python_child_in_the_shipped_code_is_isolated():
    children = {
        f"{path.relative_to(ROOT)}:{line}": isolated
        for folder in ("runtime", "export", "train", "fuzz")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, isolated in _python_children(path)
    }
    assert len(children) >= 3, children  # bench's cold start, the int8 converter, the fuzz worker
    assert [where for where, isolated in children.items() if not isolated] == []
