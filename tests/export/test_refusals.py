"""Features the runtime refuses before a runtime parses the file: ONNX external data, custom domains,
functions and ORT-format files; TFLite external buffers and op options that crash LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.runtime import ModelLoadError, UnsupportedModelError, load
from edgernn.runtime.vet.onnx_proto import check_onnx

from conftest import MODELS
from helpers import copy_bundle, replace_file

SEED = MODELS / "seed-lstm"
X = np.array([[[6.0], [7.0], [8.0], [9.0]]], dtype=np.float32)


@pytest.fixture
def bundle(tmp_path):
    return copy_bundle(SEED, tmp_path / "bundle")


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
    model.graph.node[0].domain = "com.example.custom"  # any node: tf2onnx's graph or the native one


def _contrib_import(model, bundle):
    import onnx

    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))


def _function(model, bundle):
    import onnx

    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    model.functions.append(
        onnx.helper.make_function("com.example", "Twice", ["x"], ["y"], [node], [onnx.helper.make_opsetid("", 17)])
    )


REFUSALS = {
    "external_data": (_external, "external data"),
    "custom_op": (_custom_node, "com.example.custom"),
    "contrib_domain": (_contrib_import, "com.microsoft"),
    "function": (_function, "functions"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_onnx_features_are_refused_before_onnxruntime(bundle, case):
    change, expected = REFUSALS[case]
    model = _onnx_model()
    replace_file(bundle, "model.onnx", model.SerializeToString())
    load(bundle, backend="onnxruntime").predict(X)  # neighbour: the re-serialized original loads
    change(model, bundle)
    replace_file(bundle, "model.onnx", model.SerializeToString())
    # allow_extra: the external weights file is one the manifest does not list, refused on its own
    # (test_hostile.py); here the ONNX vetting must refuse the reference to it as well.
    with pytest.raises(UnsupportedModelError, match=expected):
        load(bundle, backend="onnxruntime", allow_extra=True)


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


def test_tflite_while_form_passes_the_graph_check_and_a_bad_body_index_does_not(tmp_path, zoo_models):
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    from edgernn.export.formats import GraphForm
    from edgernn.export.formats.tflite.convert import write
    from edgernn.export.model_info import inspect_model
    from edgernn.runtime.vet.tflite_graph import check_graph

    model = zoo_models["gru-single"]
    write(model, tmp_path / "w.tflite", inspect_model(model), GraphForm("while_batch1", "test"))
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
