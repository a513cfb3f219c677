"""Every manifest problem is a ManifestError that says what is wrong; the untouched manifest loads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgernn.runtime import IntegrityError, ManifestError, load

from conftest import MODELS
from helpers import BACKEND_OF, copy_bundle, edit_manifest, manifest_json

SEED = MODELS / "seed-gru"


def _art(fmt):
    return lambda m: next(a for a in m["artifacts"] if a["format"] == fmt)


def _set(path, value):
    """A change that sets manifest[path...] = value."""

    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key] if not callable(key) else key(m)
        m[last] = value

    return change


def _drop(path):
    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key] if not callable(key) else key(m)
        del m[last]

    return change


CASES = {
    "schema_version_2": (_set(["schema_version"], 2), "schema_version 2 is not supported"),
    "schema_version_string": (_set(["schema_version"], "1"), "schema_version '1'"),
    "schema_version_bool": (_set(["schema_version"], True), "schema_version True"),
    "other_format": (_set(["format"], "tfjs-bundle"), "expected 'edgernn-bundle'"),
    "missing_artifacts": (_drop(["artifacts"]), r"missing keys \['artifacts'\]"),
    "missing_golden": (_drop(["golden"]), r"missing keys \['golden'\]"),
    "missing_timesteps": (_drop(["input", "timesteps"]), "input.timesteps is None"),
    "missing_sha256": (_drop([_art("onnx"), "sha256"]), r"missing \['sha256'\]"),
    "bad_sha256": (_set([_art("onnx"), "sha256"], "abc"), "64 lowercase hex"),
    "negative_size": (_set([_art("onnx"), "bytes"], -1), "non-negative integer"),
    "empty_artifacts": (_set(["artifacts"], []), "non-empty list"),
    "unknown_artifact_format": (_set([_art("onnx"), "format"], "tfjs"), "expected one of"),
    "suffix_disagrees": (_set([_art("onnx"), "file"], "model.tflite"), "not the '.onnx' suffix"),
    "duplicate_file": (lambda m: m["artifacts"].append(dict(m["artifacts"][0])), "repeat a name"),
    "extra_preprocessing_step": (_set(["preprocessing", "input", "clip"], [0, 1]), r"keys \['clip'\]"),
    "int8_input": (_set(["input", "dtype"], "int8"), "float32 windows or int32 token ids only"),
    "sequence_not_bool": (_set(["output", "sequence"], "yes"), "true or false"),
    "scale_zero": (_set(["preprocessing", "input", "scale"], [0.0]), r"\|scale\| must lie"),
    "scale_inf_as_float32": (_set(["preprocessing", "input", "scale"], [1e39]), r"\|scale\| must lie"),
    "scale_flushes_float32": (_set(["preprocessing", "output", "scale"], [1e-39]), r"\|scale\| must lie"),
    "offset_inf_as_float32": (_set(["preprocessing", "input", "offset"], [1e39]), r"\|offset\| must be at most"),
    "scale_nan": (_set(["preprocessing", "input", "scale"], [float("nan")]), "must be finite"),
    "scale_inf": (_set(["preprocessing", "output", "scale"], [float("inf")]), "must be finite"),
    "offset_inf": (_set(["preprocessing", "input", "offset"], [float("-inf")]), "must be finite"),
    "scale_string": (_set(["preprocessing", "input", "scale"], ["0.1"]), "expected numbers"),
    "scale_count": (_set(["preprocessing", "input", "scale"], [0.1, 0.2]), "expected 1 or 1"),
    "name_parent": (_set([_art("onnx"), "file"], "../model.onnx"), "plain name"),
    "name_separator": (_set([_art("onnx"), "file"], "sub/model.onnx"), "plain name"),
    "name_backslash": (_set([_art("onnx"), "file"], "sub\\model.onnx"), "plain name"),
    "name_absolute": (_set([_art("onnx"), "file"], "/etc/model.onnx"), "plain name"),
    "name_dotdot": (_set(["golden", "file"], ".."), "not a plain file name"),
    "name_empty": (_set(["golden", "file"], ""), "not a plain file name"),
    "name_not_string": (_set([_art("onnx"), "file"], 7), "not a plain file name"),
    "source_without_bytes": (_drop(["source", "bytes"]), "source has bytes None"),
    "source_not_object": (_set(["source"], "model.keras"), "source must be an object"),
    "tolerance_string": (_set([_art("onnx"), "tolerance"], "abc"), "tolerance 'abc'; expected a finite"),
    "tolerance_null": (_set([_art("onnx"), "tolerance"], None), "tolerance None; expected a finite"),
    "tolerance_negative": (_set([_art("onnx"), "tolerance"], -1e-5), "non-negative number"),
    "tolerance_nan": (_set([_art("onnx"), "tolerance"], float("nan")), "tolerance nan"),
    "model_not_object": (_set(["model"], "gru"), "model must be an object, got str"),
    "model_cells_nested": (_set(["model", "cells"], [["gru"]]), r"model.cells is \[\['gru'\]\]"),
    "streaming_not_object": (_set(["streaming"], []), "streaming must be an object, got list"),
    "streaming_states_not_list": (_set(["streaming", "states"], "h"), "streaming.states is 'h'"),
}


def test_the_untouched_manifest_loads_on_every_backend(tmp_path):
    bundle = copy_bundle(SEED, tmp_path / "b")
    edit_manifest(bundle, lambda m: None)  # a rewrite alone changes nothing
    for backend in BACKEND_OF.values():
        load(bundle, backend=backend)


def test_optional_blocks_may_be_absent_or_plain(tmp_path):
    """The neighbours of the source/model/streaming/tolerance cases: absent blocks, a zero tolerance and a
    SimpleRNN-only cells list still load with the auto rule."""
    bundle = copy_bundle(SEED, tmp_path / "b")
    edit_manifest(bundle, lambda m: [m.pop(k) for k in ("source", "model", "streaming")], prune=True)
    assert load(bundle).predict(np.zeros((1, 4, 1), np.float32)).shape == (1, 1)
    edit_manifest(bundle, lambda m: (m.update(model={"cells": ["simple_rnn"]}), _art("onnx")(m).update(tolerance=0)))
    assert load(bundle).predict(np.zeros((1, 4, 1), np.float32)).shape == (1, 1)


@pytest.mark.parametrize("case", ["source_without_bytes", "tolerance_string", "tolerance_null"])
def test_validate_reports_source_and_tolerance_junk_as_a_manifest_error(tmp_path, case):
    """validate read these after reading the manifest (float(tolerance), read_checked(source)): ValueError/KeyError."""
    from edgernn.runtime.validate import validate

    bundle = copy_bundle(SEED, tmp_path / "b")
    validate(bundle, ["numpy"])  # the neighbour
    edit_manifest(bundle, CASES[case][0])
    with pytest.raises(ManifestError, match=CASES[case][1]):
        validate(bundle, ["numpy"])


def test_junk_model_cells_with_the_auto_backend_is_a_manifest_error(tmp_path):
    bundle = copy_bundle(SEED, tmp_path / "b")
    edit_manifest(bundle, _set(["model", "cells"], [["simple_rnn"], {}]))
    with pytest.raises(ManifestError, match="model.cells"):
        load(bundle)  # backend="auto" reads model.cells to order the backends


@pytest.mark.parametrize("case", sorted(CASES))
def test_manifest_problem_is_a_manifest_error(tmp_path, case):
    change, expected = CASES[case]
    bundle = copy_bundle(SEED, tmp_path / "b")
    edit_manifest(bundle, change)
    with pytest.raises(ManifestError, match=expected):
        load(bundle, backend="onnxruntime")


def test_manifest_that_is_not_json_or_not_an_object(tmp_path):
    bundle = copy_bundle(SEED, tmp_path / "b")
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load(bundle)
    (bundle / "manifest.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ManifestError, match="expected a JSON object"):
        load(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="has no manifest.json"):
        load(bundle)


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
@pytest.mark.parametrize("field,value", [("bytes", 1), ("sha256", "0" * 64)])
def test_size_or_hash_that_does_not_match_is_an_integrity_error(tmp_path, fmt, field, value):
    bundle = copy_bundle(SEED, tmp_path / "b")
    edit_manifest(bundle, _set([_art(fmt), field], value))
    with pytest.raises(IntegrityError, match=rf"model\.{fmt}: .*(the manifest says 1|does not match the manifest)"):
        load(bundle, backend=BACKEND_OF[fmt])


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
@pytest.mark.parametrize(
    "block,key,value", [("input", "timesteps", 5), ("input", "features", 2), ("output", "outputs", 3)]
)
def test_shapes_that_disagree_with_the_model_file(tmp_path, fmt, block, key, value):
    """The manifest's shapes are checked against the shapes the runtime reports for the model itself."""
    bundle = copy_bundle(SEED, tmp_path / "b")

    def change(m):
        m[block][key] = value
        for side in ("input", "output"):  # keep the preprocessing consistent, so only the shape is wrong
            for k in ("offset", "scale"):
                m["preprocessing"][side][k] = m["preprocessing"][side][k][:1]

    edit_manifest(bundle, change)
    with pytest.raises(ManifestError, match=rf"model\.{fmt}: the model's {block} shape .* disagree"):
        load(bundle, backend=BACKEND_OF[fmt])


@pytest.mark.parametrize(
    "content,expected",
    [
        ("[" * 100000 + "]" * 100000, "RecursionError"),
        ('{"a": 1e999999}', "expected a JSON object|missing keys"),
        (" " * (17 << 20), "limit"),
        (b"\xff\xfe{}", "UnicodeDecodeError"),
    ],
)
def test_hostile_manifest_text_is_a_manifest_error(tmp_path, content, expected):
    bundle = copy_bundle(SEED, tmp_path / "b")
    path = bundle / "manifest.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ManifestError, match=expected):
        load(bundle)


def test_manifest_fuzz_ends_in_a_load_or_a_typed_error(tmp_path):
    """Random values and deletions anywhere in the manifest: a typed error or a working predictor."""
    import copy
    import random

    from edgernn.runtime import EdgeRNNError

    bundle = copy_bundle(SEED, tmp_path / "b")
    base = manifest_json(bundle)
    values = [None, -1, 0, 1, 2.5, float("nan"), "x", "", [], {}, [1, 2], {"a": 1}, True, 10**30, "../x", [[[]]]]
    rng = random.Random(0)
    outcomes = {"loaded": 0, "typed": 0}

    def paths(node, prefix=()):
        if prefix:
            yield prefix
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            yield from paths(value, prefix + (key,))

    for _ in range(300):
        manifest = copy.deepcopy(base)
        where = rng.choice(list(paths(manifest)))
        parent = manifest
        for key in where[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[where[-1]]
        else:
            parent[where[-1]] = copy.deepcopy(rng.choice(values))
        (bundle / "manifest.json").write_text(json.dumps(manifest))
        try:
            load(bundle, backend="onnxruntime").predict(np.zeros((1, 4, 1)))
            outcomes["loaded"] += 1
        except EdgeRNNError:
            outcomes["typed"] += 1
    assert outcomes["loaded"] > 0 and outcomes["typed"] > 0, outcomes


def test_an_artifact_no_installed_backend_runs_is_backend_unavailable_and_a_missing_variant_is_input(tmp_path):
    """An ONNX-only bundle where onnxruntime cannot be imported (run in a child, sys.modules[...] = None):
    float32 exists but nothing runs it -> BackendUnavailableError; int8 is absent -> InputError."""
    import subprocess
    import sys

    bundle = copy_bundle(SEED, tmp_path / "b")
    onnx_only = lambda m: m.update(artifacts=[a for a in m["artifacts"] if a["format"] == "onnx"])  # noqa: E731
    edit_manifest(bundle, onnx_only, prune=True)
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from edgernn.runtime import BackendUnavailableError, InputError, load\n"
        "for variant in ('float32', 'int8'):\n"
        "    try:\n"
        f"        load({str(bundle)!r}, variant=variant)\n"
        "    except (BackendUnavailableError, InputError) as exc:  # both importable from edgernn.runtime\n"
        "        print(type(exc).__name__, '|', exc)\n"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0].startswith("BackendUnavailableError | no installed backend can run variant 'float32'"), lines
    assert "pip install 'edgernn[litert]' or 'edgernn[onnx]'" in lines[0]
    assert lines[1].startswith("InputError | ") and "no artifact of variant 'int8'" in lines[1], lines
    assert "[('onnx', 'float32')]" in lines[1]


def test_every_error_load_documents_is_exported_from_edgernn_runtime():
    import re

    import edgernn.runtime as runtime

    raises = load.__doc__.split("Raises:")[1]
    documented = set(re.findall(r"\b[A-Z]\w+Error\b", raises))
    assert {"BackendUnavailableError", "InputError"} <= documented  # the docstring still lists them
    assert documented <= set(runtime.__all__), documented - set(runtime.__all__)
    assert all(issubclass(getattr(runtime, name), runtime.EdgeRNNError) for name in documented)
    assert runtime.MissingExtraError is __import__("edgernn.runtime.errors", fromlist=["x"]).MissingExtraError
    assert "ManifestError" not in __import__("edgernn.runtime.predictor", fromlist=["x"]).__all__
