"""The wheel holds every module of the source tree: pyproject.toml lists its packages one by one, and a
folder missing from that list is missing from `pip install edgernn` (export/formats/c was: every export
of an installed wheel failed with ModuleNotFoundError while the editable checkout worked)."""

from __future__ import annotations

import tomllib

from conftest import ROOT

TOP = {"train": "edgernn.train", "export": "edgernn.export", "runtime": "edgernn.runtime"}


def test_every_source_folder_is_a_package_of_the_wheel():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        f"{TOP[path.parts[0]]}{''.join('.' + p for p in path.parts[1:])}": path.as_posix()
        for top in TOP
        for path in (d.relative_to(ROOT) for d in {f.parent for f in (ROOT / top).rglob("*.py")})
        if "__pycache__" not in path.parts
    }
    assert set(setup["packages"]) == set(folders), set(folders) ^ set(setup["packages"])
    assert setup["package-dir"] == folders
