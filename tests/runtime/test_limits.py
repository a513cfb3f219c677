"""Limits before parsing and numbers checked where they are used (the red-team list of issue 16).

Each hostile case is paired with the passing neighbour it was made from, so a check that refuses
everything would fail here too.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
import pytest

from edgernn.runtime import InputError, IntegrityError, ManifestError, ModelLoadError, load
from edgernn.runtime.validate import validate

from conftest import MODELS
from helpers import copy_bundle, edit_manifest, replace_file

SEED = MODELS / "seed-lstm"
X = np.array([[[6.0], [7.0], [8.0], [9.0]]], dtype=np.float32)


@pytest.fixture
def bundle(tmp_path):
    return copy_bundle(SEED, tmp_path / "bundle")


def _npz(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array)
    return out.getvalue()


def test_a_zip_bomb_golden_is_refused_before_it_inflates(bundle):
    golden = dict(np.load(SEED / "golden.npz"))
    replace_file(bundle, "golden.npz", _npz({f"{k}.npy": _npy(v) for k, v in golden.items()}, zipfile.ZIP_DEFLATED))
    assert validate(bundle, ["numpy"])  # the neighbour: the same arrays, compressed, pass
    bomb = _npz({"inputs.npy": _npy(np.zeros((1 << 26, 4), np.float32))}, zipfile.ZIP_DEFLATED)  # 1 GiB -> ~1 MB
    replace_file(bundle, "golden.npz", bomb)
    with pytest.raises(ManifestError, match=r"golden file golden\.npz: .*declare \d+ bytes inflated from \d+"):
        validate(bundle, ["numpy"])  # refused from the zip directory: nothing was inflated


def test_an_npy_header_claiming_a_huge_shape_is_refused_before_allocating(bundle):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": (9999999, 4, 1)})
    liar = out.getvalue() + bytes(32)  # a header claiming 160 MB, 32 bytes of data
    golden = dict(np.load(SEED / "golden.npz"))
    members = {f"{k}.npy": _npy(v) for k, v in golden.items()}
    replace_file(bundle, "golden.npz", _npz(members))
    assert validate(bundle, ["numpy"])  # the neighbour
    members["inputs.npy"] = liar
    replace_file(bundle, "golden.npz", _npz(members))
    with pytest.raises(ManifestError, match=r"declares shape \(9999999, 4, 1\) of float32 but holds"):
        validate(bundle, ["numpy"])
    members["inputs.npy"] = liar.replace(b"(9999999, 4, 1)", b"(9999999,, 4, ")  # a header numpy cannot parse
    replace_file(bundle, "golden.npz", _npz(members))
    with pytest.raises(ManifestError, match=r"member 'inputs.npy': (SyntaxError|TokenError|ValueError)"):
        validate(bundle, ["numpy"])


@pytest.mark.parametrize("member", ["extra.npy", "inputs.pkl", "../inputs.npy"])
def test_golden_members_outside_the_listed_set_are_refused(bundle, member):
    golden = dict(np.load(SEED / "golden.npz"))
    members = {f"{k}.npy": _npy(v) for k, v in golden.items()}
    members[member] = _npy(np.zeros(3, np.float32))
    replace_file(bundle, "golden.npz", _npz(members))
    with pytest.raises(ManifestError, match="unexpected member"):
        validate(bundle, ["numpy"])


def test_a_model_npz_bomb_is_a_model_load_error_and_its_neighbour_loads(bundle):
    from edgernn.runtime.backends.numpy_ref import read_npz

    content = (SEED / "model.npz").read_bytes()
    spec, arrays = read_npz(content, "model.npz")  # the neighbour
    assert spec["layers"] and arrays
    bomb = _npz({"0_lstm/kernel.npy": _npy(np.zeros((1 << 26, 4), np.float32))}, zipfile.ZIP_DEFLATED)
    replace_file(bundle, "model.npz", bomb)
    with pytest.raises(ModelLoadError, match=r"model\.npz: .*declare \d+ bytes inflated"):
        load(bundle, backend="numpy")


def test_an_empty_golden_set_fails(bundle):
    golden = {k: v[:0] for k, v in np.load(SEED / "golden.npz").items()}
    replace_file(bundle, "golden.npz", _npz({f"{k}.npy": _npy(v) for k, v in golden.items()}))
    with pytest.raises(ManifestError, match="holds 0 inputs and 0 outputs"):
        validate(bundle, ["numpy"])


@pytest.mark.parametrize(
    "variant,tolerance,ok",
    [("float32", 1e-4, True), ("float32", 1e308, False), ("int8", 0.05, True), ("int8", 1e3, False)],
)
def test_a_tolerance_that_passes_anything_is_refused(bundle, variant, tolerance, ok):
    def change(m):
        art = next(a for a in m["artifacts"] if a["variant"] == variant)
        art["tolerance"] = tolerance

    edit_manifest(bundle, change)
    if ok:
        assert load(bundle).predict(X).shape == (1, 1)
    else:
        with pytest.raises(ManifestError, match=rf"tolerance {re.escape(repr(tolerance))}; at most"):
            load(bundle)


def test_duplicate_manifest_keys_are_refused_not_last_wins(bundle):
    text = (bundle / "manifest.json").read_text()
    assert load(bundle).predict(X).shape == (1, 1)  # the neighbour
    (bundle / "manifest.json").write_text(text.replace('"name":', '"name": "first", "name":', 1))
    with pytest.raises(ManifestError, match="key 'name' appears more than once"):
        load(bundle)


def test_a_huge_sparse_file_is_refused_by_its_size_without_being_read(bundle):
    path = bundle / "model.onnx"
    with open(path, "r+b") as fh:
        fh.truncate(6 << 30)  # sparse: 6 GiB on paper, nothing on disk
    with pytest.raises(IntegrityError, match=rf"{6 << 30} bytes on disk, the manifest says"):
        load(bundle, backend="onnxruntime")  # fstat before read: reading it would take 6 GiB


def test_export_refuses_a_scale_that_is_inf_as_float32():
    pytest.importorskip("tensorflow")
    from edgernn.export.bundle import ExportOptions, model_spec
    from edgernn.export.keras_io import load_keras
    from edgernn.export.model_info import inspect_model
    from edgernn.runtime.errors import ExportError

    info = inspect_model(load_keras(SEED / "model.keras"))
    assert model_spec(info, ExportOptions(scale=0.1)).x.scale[0] == np.float32(0.1)  # the neighbour
    with pytest.raises(ExportError, match=r"\|scale\| must lie"):
        model_spec(info, ExportOptions(scale=1e39))


@pytest.mark.parametrize("path", [None, 7, b"\xff"])
def test_load_of_a_non_path_is_an_input_error(path):
    with pytest.raises((InputError, ManifestError)):
        load(path)


@pytest.mark.parametrize("what", ["backend", "variant"])
def test_an_unhashable_backend_or_variant_is_an_input_error(what):
    with pytest.raises(InputError, match=f"{what} must be a name"):
        load(SEED, **{what: ["litert"]})


def test_manifest_json_that_is_a_symlink_is_refused(bundle, tmp_path):
    outside = tmp_path / "manifest.json"
    outside.write_text((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").unlink()
    (bundle / "manifest.json").symlink_to(outside)
    with pytest.raises(ManifestError, match=r"manifest\.json is a symlink"):
        load(bundle)
    json.loads(outside.read_text())  # the same text as a plain file is the passing neighbour (the fixture)


def test_names_from_a_manifest_reach_the_terminal_escaped(bundle, capsys):
    from edgernn.runtime.cli import main

    assert main(["info", str(bundle)]) == 0
    assert "seed-lstm" in capsys.readouterr().out  # the neighbour: a plain name prints as it is
    edit_manifest(bundle, lambda m: m.update(name="evil\x1b]0;pwned\x07\x1b[2J"))
    assert main(["info", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "evil\\x1b]0;pwned\\x07" in out


def test_an_undecodable_folder_name_is_a_message_not_a_unicode_error(tmp_path):
    import os
    import subprocess
    import sys

    name = os.fsencode(tmp_path) + b"/bundle-\xff"
    os.mkdir(name)
    proc = subprocess.run([sys.executable, "-m", "edgernn.runtime", "info", name], capture_output=True)
    assert proc.returncode == 3 and b"ManifestError" in proc.stderr and b"Traceback" not in proc.stderr


HUNGRY_CHILD = """
import json, sys
import numpy as np
from edgernn.runtime import ModelRunError, load
out = {}
hungry, normal, big = sys.argv[1], sys.argv[2], float(sys.argv[3])
for name, bundle, x in (("normal", normal, 6.0), ("small", hungry, 2.0**-8), ("big", hungry, big)):
    p = load(bundle, backend="onnxruntime")
    try:
        out[name] = p.predict(np.full((1, 4, 1), x, np.float32)).tolist()
    except ModelRunError as exc:
        out[name] = "ModelRunError: " + str(exc)
print(json.dumps(out))
"""


@pytest.mark.parametrize("cap, x", [("67108864", 0.25), ("", 2.0)])  # 256 MiB over 64 MiB; 2 GiB over the 1 GiB default
def test_onnxruntime_memory_above_the_arena_cap_fails_typed_and_a_normal_bundle_runs(tmp_path, cap, x):
    """The graph's shape comes from the input, so only the arena cap can stop it; a child process, so the
    cap (one per process) is the one asked for."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("onnx")
    from spinning import spinning_bundle

    hungry = spinning_bundle(SEED, tmp_path / "hungry", "hungry")
    env = {**os.environ, "EDGERNN_ORT_MAX_BYTES": cap}
    command = [sys.executable, "-c", HUNGRY_CHILD, str(hungry), str(SEED), str(x)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["small"] == [[2.0**-8]]  # 4 MiB: under the cap, the graph's own answer
    assert result["normal"] == load(SEED, backend="onnxruntime").predict(np.full((1, 4, 1), 6.0)).tolist()
    want = f"more memory than its cap of {int(cap) if cap else 1 << 30} bytes"
    assert (
        result["big"].startswith("ModelRunError: model.onnx: the model asked onnxruntime for") and want in result["big"]
    )
