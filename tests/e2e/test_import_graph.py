"""The shape of the house, read from the source: data flows train -> export -> runtime, and the device
core (runtime/ outside runtime/cli/) imports nothing of the training stack at any level."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = {"train": "edgernn.train", "export": "edgernn.export", "runtime": "edgernn.runtime"}
TRAINING_STACK = ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx")
CLI_ONLY = ("rich", "matplotlib")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [PACKAGES[rel.parts[0]], *rel.parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, function bodies included, TYPE_CHECKING aside.

    `name` is the file's module name (default: from its place in the tree)."""
    name = name or module_name(path)
    tree = ast.parse(path.read_text())
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for child in node.body
        for n in ast.walk(child)
    }
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]  # a name or a submodule
            out.append((node.lineno, base))
    return out


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def known_modules() -> set[str]:
    return {module_name(p) for p in sources(*PACKAGES)}


def test_the_device_core_imports_no_training_stack_no_cli_and_no_export_or_train():
    bad = []
    for path in sources("runtime"):
        if path.relative_to(ROOT / "runtime").parts[0] in ("cli", "__main__.py"):  # `python -m`: never imported
            continue
        for line, name in imports(path):
            top = name.split(".")[0]
            if top in TRAINING_STACK + CLI_ONLY or name.startswith(
                ("edgernn.train", "edgernn.export", "edgernn.runtime.cli")
            ):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, bad
    assert len(sources("runtime")) > 20  # the walk saw the tree


def test_export_never_imports_train():
    bad = [
        f"{p.relative_to(ROOT)}:{line} {name}"
        for p in sources("export")
        for line, name in imports(p)
        if name.startswith("edgernn.train")
    ]
    assert not bad, bad


def test_no_import_cycles_at_any_level():
    """Lazy imports inside functions count too: a cycle hidden in a function body is still a cycle."""
    known = known_modules()
    graph = {
        module_name(p): {n for _, n in imports(p) if n in known and n != module_name(p)} for p in sources(*PACKAGES)
    }
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    # A package's __init__ importing its own submodules is how packages work, not a cycle between ideas.
    real = [c for c in cycles if not any(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not real, real


def test_the_walk_finds_a_planted_violation(tmp_path):
    """The neighbour: the same reader on a module that does import keras and a cli module reports both."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    import keras\n    from .cli import main\n")
    found = [name for _, name in imports(planted, "edgernn.runtime.planted")]
    assert "keras" in found and "edgernn.runtime.cli.main" in found
