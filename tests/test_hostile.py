"""Hostile and broken model files: integrity, typed load errors, refused ONNX/TFLite features."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from conftest import MODELS
from edgernn.runtime import (IntegrityError, ManifestError, ModelLoadError, UnsupportedModelError, load)
from edgernn.runtime.onnx_proto import check_onnx
from edgernn.runtime.validate import validate
from helpers_hostile import BACKEND_OF, copy_bundle, edit_manifest, replace_file

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
        blobs = [model.Buffers(i).DataAsNumpy().tobytes() for i in range(model.BuffersLength())
                 if model.Buffers(i).DataLength()]
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
    ("tflite", "empty"): "no 'TFL3'", ("tflite", "truncated"): "out of range|overruns",
    ("tflite", "garbage"): "no 'TFL3'", ("tflite", "wrong_format"): "no 'TFL3'",
    ("onnx", "empty"): "empty", ("onnx", "truncated"): "overruns|out of range",
    ("onnx", "garbage"): "not a valid ONNX file", ("onnx", "wrong_format"): "not a valid ONNX file",
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


# ----------------------------------------------------------------------------- ONNX refusals

def _onnx_model():
    import onnx

    return onnx.load_from_string((SEED / "model.onnx").read_bytes())


def _external(model, bundle):
    from onnx.external_data_helper import set_external_data

    init = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    (bundle / "weights.bin").write_bytes(init.raw_data)
    set_external_data(init, "weights.bin", offset=0, length=len(init.raw_data))
    init.ClearField("raw_data")
    init.data_location = 1  # EXTERNAL


def _custom_node(model, bundle):
    next(n for n in model.graph.node if n.op_type == "Add").domain = "com.example.custom"


def _contrib_import(model, bundle):
    import onnx

    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))


def _function(model, bundle):
    import onnx

    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    model.functions.append(onnx.helper.make_function("com.example", "Twice", ["x"], ["y"], [node],
                                                     [onnx.helper.make_opsetid("", 17)]))


REFUSALS = {"external_data": (_external, "external data"), "custom_op": (_custom_node, "com.example.custom"),
            "contrib_domain": (_contrib_import, "com.microsoft"), "function": (_function, "functions")}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_onnx_features_are_refused_before_onnxruntime(bundle, case):
    change, expected = REFUSALS[case]
    model = _onnx_model()
    replace_file(bundle, "model.onnx", model.SerializeToString())
    load(bundle, backend="onnxruntime").predict(X)  # neighbour: the re-serialized original loads
    change(model, bundle)
    replace_file(bundle, "model.onnx", model.SerializeToString())
    with pytest.raises(UnsupportedModelError, match=expected):
        load(bundle, backend="onnxruntime")


def _if_node(branch_node):
    import onnx
    from onnx import TensorProto, helper

    out = helper.make_tensor_value_info("b_out", TensorProto.FLOAT, [1])
    graph = helper.make_graph([branch_node], "branch", [], [out])
    return helper.make_node("If", ["cond"], ["if_out"], then_branch=graph, else_branch=graph), onnx


@pytest.mark.parametrize("domain,refused", [("", False), ("com.example.custom", True)])
def test_custom_op_inside_a_subgraph_is_found(domain, refused):
    from onnx import helper

    node, _ = _if_node(helper.make_node("Relu", ["a"], ["b_out"], domain=domain))
    model = _onnx_model()
    model.graph.node.append(node)
    if refused:
        with pytest.raises(UnsupportedModelError, match="Relu.*com.example.custom"):
            check_onnx(model.SerializeToString())
    else:
        check_onnx(model.SerializeToString())


@pytest.mark.parametrize("external", [False, True])
def test_external_data_in_a_constant_or_sparse_tensor_is_found(external):
    from onnx import TensorProto, helper
    from onnx.external_data_helper import set_external_data

    values = helper.make_tensor("v", TensorProto.FLOAT, [2], np.float32([1, 2]).tobytes(), raw=True)
    sparse_values = helper.make_tensor("sv", TensorProto.FLOAT, [1], np.float32([3]).tobytes(), raw=True)
    if external:
        for tensor in (values, sparse_values):
            set_external_data(tensor, "/etc/passwd")
            tensor.data_location = 1
    for place in ("constant", "sparse"):
        model = _onnx_model()
        if place == "constant":
            model.graph.node.append(helper.make_node("Constant", [], ["c"], value=values))
        else:
            indices = helper.make_tensor("si", TensorProto.INT64, [1], [0])
            model.graph.sparse_initializer.append(helper.make_sparse_tensor(sparse_values, indices, [4]))
        if external:
            with pytest.raises(UnsupportedModelError, match="external data"):
                check_onnx(model.SerializeToString())
        else:
            check_onnx(model.SerializeToString())


def test_ort_format_bytes_are_refused():
    with pytest.raises(UnsupportedModelError, match="ORT-format"):
        check_onnx(b"\x14\x00\x00\x00ORTM" + bytes(64))


# ----------------------------------------------------------------------------- TFLite structure

def _rewrite_tflite(edit) -> bytes:
    """The seed .tflite re-serialized through the schema's object API after `edit(model)`."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel((SEED / "model.tflite").read_bytes(), 0))
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_tflite_external_buffer_is_refused(bundle):
    def external(model):
        model.subgraphs[0].tensors[0].externalBuffer = 1

    replace_file(bundle, "model.tflite", _rewrite_tflite(external))
    with pytest.raises(UnsupportedModelError, match="external buffer"):
        load(bundle, backend="litert")


def test_tflite_op_count_that_crashed_litert_is_refused(bundle):
    """Fuzzing found SPLIT/PACK/UNPACK counts that disagree with the op's tensors crash LiteRT (SIGSEGV)."""
    from tensorflow.lite.python import schema_py_generated as schema

    rewrite = _rewrite_tflite

    def bump_split(model):
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
        op = next(o for o in model.subgraphs[0].operators if codes[o.opcodeIndex] == schema.BuiltinOperator.SPLIT)
        op.builtinOptions.numSplits = 131

    replace_file(bundle, "model.tflite", rewrite(lambda m: None))
    np.testing.assert_array_equal(load(bundle, backend="litert").predict(X), load(SEED, backend="litert").predict(X))
    replace_file(bundle, "model.tflite", rewrite(bump_split))
    with pytest.raises(ModelLoadError, match="declares 131 tensors but lists 4"):
        load(bundle, backend="litert")


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
    for backend in BACKEND_OF.values():
        assert load(bundle, backend=backend).predict(X).shape == (1, 1)
    golden = tmp_path / "golden.npz"
    np.savez(golden, inputs=np.zeros((1, 4, 1), np.float32), outputs=np.array([_Payload(tmp_path / "pickle-ran")], dtype=object))
    replace_file(bundle, "golden.npz", golden.read_bytes())
    with pytest.raises(ManifestError, match="not a readable .npz"):
        validate(bundle)
    assert not (tmp_path / "pickle-ran").exists()


def test_tflite_while_form_passes_the_graph_check_and_a_bad_body_index_does_not(tmp_path, zoo_models):
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    from edgernn.export.model_info import inspect_model
    from edgernn.export.tflite import export_tflite
    from edgernn.runtime.tflite_graph import check_graph

    model = zoo_models["gru-single"]
    export_tflite(model, tmp_path / "w.tflite", inspect_model(model), form="while_batch1")
    data = (tmp_path / "w.tflite").read_bytes()
    check_graph(data)
    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in tree.operatorCodes]
    loop = next(o for o in tree.subgraphs[0].operators if codes[o.opcodeIndex] == schema.BuiltinOperator.WHILE)
    loop.builtinOptions.bodySubgraphIndex = len(tree.subgraphs) + 5
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(ModelLoadError, match=r"\(WHILE\) names subgraph"):
        check_graph(bytes(builder.Output()))


@pytest.mark.parametrize("kind", ["fifo", "symlink_out", "directory"])
def test_model_file_that_is_not_a_plain_file_in_the_bundle_is_refused(bundle, tmp_path, kind):
    import os

    path = bundle / "model.onnx"
    os.symlink("golden.npz", bundle / "alias.npz")  # neighbour: a link inside the bundle is still a file
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
    with pytest.raises(ManifestError, match="not a regular file|outside the bundle|cannot read"):
        load(bundle, backend="onnxruntime")
