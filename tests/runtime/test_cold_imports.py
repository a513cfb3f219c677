"""Cold start stays cut: `import edgernn.runtime` imports nothing, a plain LiteRT load only what it needs.

Each deferred module is milliseconds of a ~5 ms budget (benchmarks/cold_start.py); these fresh
processes fail the moment one of them creeps back onto the path of a plain load.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from edgernn.runtime import optional

from conftest import MODELS, ROOT
from helpers import installed_default_backends

# Loaded only by the commands or features that use them, never by `load` + `predict` of a plain bundle.
DEFERRED = (
    "json",  # the manifest is read with json's own C scanner (runtime/manifest_json.py)
    "edgernn.runtime.cli",
    "edgernn.runtime.validate",
    "edgernn.runtime.compare",
    "edgernn.runtime.data",
    "edgernn.runtime.heads",
    "edgernn.runtime.outputs",  # several outputs or inputs only
    "edgernn.runtime.tokens",
    "edgernn.runtime.inputs",  # several inputs (issue 13)
    "edgernn.runtime.backends.litert_inputs",
    "edgernn.runtime.backends.litert_step",  # step models: read by load, opened by the first stream()
    "edgernn.runtime.stream",
    "edgernn.runtime.guarded",  # predict(timeout=S) or allow_nonfinite=True only
    "edgernn.runtime.guard",  # input that is not a float32 array, or a runtime that failed
    "edgernn.runtime.isolate",
    "edgernn.runtime.signing",
    "edgernn.runtime.parallel",
    "edgernn.runtime.vet.npz",
    "edgernn.runtime.backends.ort",
    "edgernn.runtime.backends.numpy_ref",
    "edgernn.runtime.backends.c",
    "edgernn.runtime.backends.tflm",
    "threading",
    "shutil",
    "dataclasses",
    "zipfile",
)


# Not listed: importlib.util and pathlib, which `import numpy` loads (both sides of the cold start pay them).
# Stdlib modules of DEFERRED that a site .pth (an editable install's finder) may import at start-up:
# evicted first, so a re-import shows. threading is left alone (evicting it breaks interpreter shutdown).
PRELOADED = ("shutil", "dataclasses", "zipfile")


def imported_by(code: str) -> tuple[set[str], dict]:
    """(modules the code imported beyond the interpreter's own start-up and numpy, what it printed as JSON)."""
    script = textwrap.dedent(f"""
        import json as _probe_json, sys
        before = set(sys.modules) - {{"json", "json.decoder", "json.scanner", "json.encoder", "_json"}}
        dumps = _probe_json.dumps
        del sys.modules["json"], _probe_json  # the probe's own json must not hide the code's
        for _name in {PRELOADED!r}:  # a site .pth may import these at start-up: evicted, so a re-import shows
            sys.modules.pop(_name, None)
        import numpy
        before |= set(sys.modules)
        result = {{}}
        {textwrap.indent(textwrap.dedent(code), "        ").strip()}
        print(dumps({{"new": sorted(set(sys.modules) - before), "result": result}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return set(found["new"]), found["result"]


def test_import_edgernn_runtime_imports_no_submodule():
    new, _ = imported_by("import edgernn.runtime")
    assert sorted(m for m in new if m.startswith("edgernn.runtime.")) == []
    assert "json" not in new


def test_names_of_the_package_still_resolve_on_first_use():
    _, result = imported_by("""
        import edgernn.runtime as rt
        result["names"] = sorted(n for n in rt.__all__ if getattr(rt, n) is not None)
        result["error"] = issubclass(rt.InputError, ValueError) and issubclass(rt.ModelLoadError, rt.EdgeRNNError)
    """)
    import edgernn.runtime as rt

    assert result == {"names": sorted(rt.__all__), "error": True}


@pytest.mark.skipif("litert" not in installed_default_backends(), reason="needs ai-edge-litert or tflite-runtime")
def test_a_plain_litert_load_and_predict_import_none_of_the_deferred_modules():
    new, result = imported_by(f"""
        from edgernn.runtime import load
        p = load({str(MODELS / "seed-lstm")!r}, backend="litert")
        result["y"] = float(p.predict(numpy.array([[[6.0], [7.0], [8.0], [9.0]]], numpy.float32))[0, 0])
        result["module"] = p.runner.runtime_module
        result["guard"] = "edgernn.runtime.guard" in sys.modules
        result["y from a list"] = float(p.predict([[[6.0], [7.0], [8.0], [9.0]]])[0, 0])  # converted by guard.py
    """)
    assert sorted(new & set(DEFERRED)) == ["edgernn.runtime.guard"]  # imported by the list's predict, not before
    assert not result["guard"] and result["y from a list"] == result["y"]
    if optional.available("ai_edge_litert"):  # made from its C++ wrapper (runtime/backends/litert_open.py)
        assert "ai_edge_litert.interpreter" not in new
        assert result["module"] == "ai_edge_litert._pywrap_litert_interpreter_wrapper"
    assert "edgernn.runtime.backends.litert" in new  # the probe sees the load's imports at all
    assert result["y"] == result["y"]  # a number came back, not NaN


# Every edgernn module a plain LiteRT load imports: one more is ~0.1-0.2 ms of cold start
# (benchmarks/cold_start.py), so a new one on this path is added here on purpose, not by accident.
LOAD_PATH = {
    "edgernn",
    "edgernn.runtime",
    "edgernn.runtime.backends",
    "edgernn.runtime.backends.litert",
    "edgernn.runtime.backends.litert_open",
    "edgernn.runtime.blocks",
    "edgernn.runtime.bundle",
    "edgernn.runtime.checks",
    "edgernn.runtime.errors",
    "edgernn.runtime.files",
    "edgernn.runtime.frozen",
    "edgernn.runtime.manifest",
    "edgernn.runtime.manifest_json",
    "edgernn.runtime.optional",
    "edgernn.runtime.predictor",
    "edgernn.runtime.records",
    "edgernn.runtime.vet",
    "edgernn.runtime.vet.tflite_graph",
    "edgernn.runtime.vet.tflite_ops",
}


@pytest.mark.skipif("litert" not in installed_default_backends(), reason="needs ai-edge-litert or tflite-runtime")
def test_a_plain_litert_load_imports_exactly_the_modules_of_its_path():
    new, result = imported_by(f"""
        import gc
        seen = []
        gc.callbacks.append(lambda phase, info: seen.append(info["generation"]) if phase == "start" else None)
        from edgernn.runtime import load
        result["import"] = sorted(m for m in sys.modules if m.startswith("edgernn"))
        p = load({str(MODELS / "seed-lstm")!r}, backend="litert")
        result["collections"], result["enabled"], result["young"] = seen, gc.isenabled(), gc.get_count()[0]
        # A second load promotes nothing (p stays alive: freeing its objects would lower the young count)
        q = load({str(MODELS / "seed-lstm")!r}, backend="litert")
        result["young again"] = gc.get_count()[0]
    """)
    assert sorted(m for m in new if m.startswith("edgernn")) == sorted(LOAD_PATH)
    assert result["import"] == ["edgernn", "edgernn.runtime"]  # `load` is defined in the package itself
    assert result["collections"] == [] and result["enabled"]  # the collector paused over load, then resumed
    assert result["young"] < 100 < result["young again"]  # the first load's objects were promoted, once


@pytest.mark.skipif(not optional.available("ai_edge_litert"), reason="needs ai-edge-litert")
def test_a_plain_litert_load_looks_for_ai_edge_litert_once_before_importing_it():
    """Each optional.available probe of a module not yet imported walks sys.path (~50 us of cold start):
    the registry's availability check is the one; the wrapper is then imported without a second probe."""
    _, result = imported_by(f"""
        from edgernn.runtime import load, optional
        probes, real = [], optional.available
        optional.available = lambda module: probes.append((module, module.split(".")[0] in sys.modules)) or real(module)
        load({str(MODELS / "seed-lstm")!r}, backend="litert")
        result["probes"] = probes
    """)
    assert result["probes"] == [["ai_edge_litert", False]]
