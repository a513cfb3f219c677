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


def import_graph() -> dict[str, set[str]]:
    """Module -> the edgernn modules it imports, at any level. An edge to one's own parent package is
    dropped: `from . import x` in a submodule imports the sibling x, and the package is already loading."""
    known = known_modules()
    graph = {}
    for path in sources(*PACKAGES):
        name = module_name(path)
        graph[name] = {n for _, n in imports(path) if n in known and n != name and not name.startswith(n + ".")}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), each sorted; [] when there is none."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for start in sorted(graph):
        if start not in index:
            connect(start)
    return groups


def test_no_import_cycles_at_any_level():
    """Lazy imports inside functions count too: a cycle hidden in a function body is still a cycle."""
    graph = import_graph()
    assert len(graph) > 60 and sum(map(len, graph.values())) > 150  # the walk saw the tree and its imports
    assert find_cycles(graph) == []


def test_the_cycle_finder_reports_a_planted_cycle():
    """The neighbour: the real graph plus one reversed import (manifest -> bundle) is a cycle, and is found."""
    graph = import_graph()
    assert "edgernn.runtime.manifest" in graph["edgernn.runtime.bundle"]
    graph["edgernn.runtime.manifest"] = graph["edgernn.runtime.manifest"] | {"edgernn.runtime.bundle"}
    (cycle,) = find_cycles(graph)
    assert {"edgernn.runtime.bundle", "edgernn.runtime.manifest"} <= set(cycle)


def test_the_walk_finds_a_planted_violation(tmp_path):
    """The neighbour: the same reader on a module that does import keras and a cli module reports both."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    import keras\n    from .cli import main\n")
    found = [name for _, name in imports(planted, "edgernn.runtime.planted")]
    assert "keras" in found and "edgernn.runtime.cli.main" in found
