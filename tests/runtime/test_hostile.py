"""Hostile and broken model files: integrity, typed load errors, files that are not plain, never-opened files."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import IntegrityError, ManifestError, ModelLoadError, load
from edgernn.runtime.bundle import Bundle
from edgernn.runtime.validate import validate

from conftest import MODELS
from helpers import BACKEND_OF, copy_bundle, edit_manifest, replace_file

SEED = MODELS / "seed-lstm"
X = np.array([[[6.0], [7.0], [8.0], [9.0]]], dtype=np.float32)
FORMATS = ("tflite", "onnx")


@pytest.fixture
def bundle(tmp_path):
    return copy_bundle(SEED, tmp_path / "bundle")


def _largest_constant(fmt: str, data: bytes) -> int:
    """Offset of the largest weight tensor's bytes in the file (so a flip there changes a weight)."""
    if fmt == "onnx":
        import onnx

        blobs = [t.raw_data for t in onnx.load_from_string(data).graph.initializer]
    else:
        from tensorflow.lite.python import schema_py_generated as schema

        model = schema.Model.GetRootAsModel(data, 0)
        blobs = [
            model.Buffers(i).DataAsNumpy().tobytes()
            for i in range(model.BuffersLength())
            if model.Buffers(i).DataLength()
        ]
    blob = max(blobs, key=len)
    return data.index(blob)


@pytest.mark.parametrize("fmt", FORMATS)
def test_flipped_weight_byte_is_an_integrity_error_and_verify_false_runs_it(bundle, fmt):
    backend = BACKEND_OF[fmt]
    original = load(bundle, backend=backend).predict(X)
    path = bundle / f"model.{fmt}"
    data = bytearray(path.read_bytes())
    data[_largest_constant(fmt, bytes(data)) + 2] ^= 0x40  # an exponent bit of a weight
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=rf"model\.{fmt}: sha256"):
        load(bundle, backend=backend)
    # verify=False skips only the hash: the damaged weight now runs (and silently changes the answer,
    # which is exactly why the hash exists) ...
    assert not np.array_equal(load(bundle, backend=backend, verify=False).predict(X), original)
    # ... while every other check still runs.
    edit_manifest(bundle, lambda m: m["input"].update(timesteps=5))
    with pytest.raises(ManifestError, match="disagree"):
        load(bundle, backend=backend, verify=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_file_fails_the_size_check(bundle, fmt):
    path = bundle / f"model.{fmt}"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IntegrityError, match=rf"model\.{fmt}: 100 bytes on disk"):
        load(bundle, backend=BACKEND_OF[fmt])


def _broken(fmt: str, kind: str) -> bytes:
    data = (SEED / f"model.{fmt}").read_bytes()
    other = (SEED / f"model.{'onnx' if fmt == 'tflite' else 'tflite'}").read_bytes()
    return {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "garbage": np.random.default_rng(0).bytes(len(data)),
        "wrong_format": other,
    }[kind]


CAUSES = {
    ("tflite", "empty"): "no 'TFL3'",
    ("tflite", "truncated"): "out of range|overruns",
    ("tflite", "garbage"): "no 'TFL3'",
    ("tflite", "wrong_format"): "no 'TFL3'",
    ("onnx", "empty"): "empty",
    ("onnx", "truncated"): "overruns|out of range",
    ("onnx", "garbage"): "not a valid ONNX file",
    ("onnx", "wrong_format"): "not a valid ONNX file",
}


@pytest.mark.parametrize("fmt,kind", sorted(CAUSES), ids=[f"{f}-{k}" for f, k in sorted(CAUSES)])
def test_broken_file_is_a_model_load_error_and_other_models_keep_serving(bundle, fmt, kind):
    """The hash matches (the manifest was rewritten), so the runtime's own parsers meet the file."""
    serving = {b: load(SEED, backend=b) for b in BACKEND_OF.values()}
    before = {b: p.predict(X) for b, p in serving.items()}
    replace_file(bundle, f"model.{fmt}", _broken(fmt, kind))
    with pytest.raises(ModelLoadError, match=rf"model\.{fmt}: .*({CAUSES[fmt, kind]})"):
        load(bundle, backend=BACKEND_OF[fmt])
    for b, predictor in serving.items():
        np.testing.assert_array_equal(predictor.predict(X), before[b])


@pytest.mark.parametrize("kind", ["fifo", "symlink_out", "directory"])
def test_model_file_that_is_not_a_plain_file_in_the_bundle_is_refused(bundle, tmp_path, kind):
    import os

    path = bundle / "model.onnx"
    os.rename(bundle / "golden.npz", bundle / "alias.npz")  # neighbour: any plain file name the manifest lists
    edit_manifest(bundle, lambda m: m["golden"].update(file="alias.npz"))
    assert validate(bundle)
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "symlink_out":
        (tmp_path / "outside.onnx").write_bytes((SEED / "model.onnx").read_bytes())
        os.symlink(tmp_path / "outside.onnx", path)
    else:
        path.mkdir()
    with pytest.raises(ManifestError, match="not a regular file|is a symlink"):
        load(bundle, backend="onnxruntime")


def test_a_symlink_is_refused_even_inside_the_bundle(bundle):
    """Files are opened with O_NOFOLLOW relative to the folder's handle: the kernel refuses a link, so a
    link swapped in after any check cannot be followed either."""
    import os

    assert validate(bundle)  # the neighbour: the plain file
    os.symlink("golden.npz", bundle / "link.npz")
    edit_manifest(bundle, lambda m: m["golden"].update(file="link.npz"))
    with pytest.raises(ManifestError, match=r"link\.npz is a symlink"):
        Bundle.open(bundle, allow_extra=True).golden()  # golden.npz is now a file the manifest does not list


def test_files_the_manifest_does_not_list_are_refused_unless_allowed(bundle):
    assert load(bundle).predict(X).shape == (1, 1)  # the neighbour
    (bundle / "numpy.py").write_text("raise SystemExit('ran')\n")  # the classic sys.path plant
    with pytest.raises(ManifestError, match=r"does not list: \['numpy.py'\].*allow_extra"):
        load(bundle)
    assert load(bundle, allow_extra=True).predict(X).shape == (1, 1)


# ----------------------------------------------------------------------------- never opened


class _Payload:
    """Unpickling this creates a file: proof that a pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_keras_h5_and_pickle_files_are_never_opened(bundle, tmp_path):
    """Directories in their place would make any attempt to read them fail; a pickled golden is refused."""
    for name in ("model.keras", "model.h5", "model.pkl"):
        path = bundle / name
        path.unlink(missing_ok=True)
        path.mkdir()
    with pytest.raises(ManifestError, match=r"does not list: \['model.h5', 'model.pkl'\]"):
        load(bundle)
    for backend in BACKEND_OF.values():
        assert load(bundle, backend=backend, allow_extra=True).predict(X).shape == (1, 1)
    golden = tmp_path / "golden.npz"
    np.savez(
        golden,
        inputs=np.zeros((1, 4, 1), np.float32),
        outputs=np.array([_Payload(tmp_path / "pickle-ran")], dtype=object),
    )
    for name in ("model.keras", "model.h5", "model.pkl"):
        (bundle / name).rmdir()
    replace_file(bundle, "golden.npz", golden.read_bytes())
    with pytest.raises(ManifestError, match="not a readable .npz"):
        validate(bundle)
    assert not (tmp_path / "pickle-ran").exists()


def _width_from_data(model):
    """Append Tile(output, [1, 1 + (max(x) > 0)]): the output width depends on the data, so no shape
    inference can know it (1 column when every input is <= 0, 2 otherwise, in raw or model units)."""
    from onnx import TensorProto, helper

    out = model.graph.output[0]
    x, y = model.graph.input[0].name, out.name
    nodes = [
        helper.make_node("ReduceMax", [x], ["w_max"], keepdims=0),
        helper.make_node("Greater", ["w_max", "w_zero"], ["w_pos"]),
        helper.make_node("Cast", ["w_pos"], ["w_int"], to=TensorProto.INT64),
        helper.make_node("Add", ["w_int", "w_one"], ["w_cols"]),
        helper.make_node("Unsqueeze", ["w_cols", "w_axis"], ["w_cols1"]),
        helper.make_node("Concat", ["w_one1", "w_cols1"], ["w_reps"], axis=0),
        helper.make_node("Tile", [y + "_pre", "w_reps"], [y]),
    ]
    for node in model.graph.node:
        node.output[:] = [y + "_pre" if o == y else o for o in node.output]
    model.graph.initializer.extend(
        [
            helper.make_tensor("w_one", TensorProto.INT64, [], [1]),
            helper.make_tensor("w_zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("w_one1", TensorProto.INT64, [1], [1]),
            helper.make_tensor("w_axis", TensorProto.INT64, [1], [0]),
        ]
    )
    model.graph.node.extend(nodes)
    out.type.tensor_type.shape.dim[1].dim_param = "cols"
    return model


def test_model_output_shape_the_manifest_does_not_promise_is_a_model_run_error(bundle):
    """A free output dimension passes the load-time shape check; the answer's shape is checked per call."""
    import onnx

    from edgernn.runtime import ModelRunError

    model = _width_from_data(onnx.load_from_string((SEED / "model.onnx").read_bytes()))
    replace_file(bundle, "model.onnx", model.SerializeToString())
    predictor = load(bundle, backend="onnxruntime")
    negative = -X  # raw -6..-9 (model units -0.6..-0.9) -> one column, as the manifest promises
    np.testing.assert_array_equal(predictor.predict(negative), load(SEED, backend="onnxruntime").predict(negative))
    with pytest.raises(ModelRunError, match=r"output shape \(1, 2\), expected \(batch, \*\(1,\)\)"):
        predictor.predict(X)
