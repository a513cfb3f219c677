"""Structure-aware edits of a .tflite that crashed or blew up LiteRT before the graph walk refused them.

Each edit is a few bytes at an offset found with the runtime's own flatbuffer reader, the sha256 is
recomputed (so only the graph walk stands between the file and the interpreter), and the unedited file
is the passing neighbour.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from edgernn.runtime import ModelLoadError, UnsupportedModelError, load
from edgernn.runtime.vet import tflite_graph as graph

from conftest import MODELS
from helpers import TfliteOffsets as _Find
from helpers import copy_bundle, replace_file

SEED = MODELS / "seed-lstm"
X = np.array([[[6.0], [7.0], [8.0], [9.0]]], dtype=np.float32)


@pytest.fixture
def bundle(tmp_path):
    return copy_bundle(SEED, tmp_path / "bundle")


def _edited(at: int, values: tuple[int, ...]) -> bytes:
    data = bytearray((SEED / "model.tflite").read_bytes())
    struct.pack_into(f"<{len(values)}i", data, at, *values)
    return bytes(data)


def test_a_required_input_marked_absent_is_refused_not_a_segfault(bundle):
    assert load(bundle, backend="litert").predict(X).shape == (1, 1)  # the neighbour
    finder = _Find((SEED / "model.tflite").read_bytes(), "model.tflite")
    weights = finder.op_inputs(9) + 4  # FULLY_CONNECTED's input 1: the weights
    replace_file(bundle, "model.tflite", _edited(weights, (-1,)))
    with pytest.raises(ModelLoadError, match=r"builtin 9\) marks inputs \[1\] absent"):
        load(bundle, backend="litert")


def test_an_absent_bias_of_fully_connected_is_still_allowed():
    """The schema's optional marker where the op allows it: FULLY_CONNECTED's bias (input 2)."""
    finder = _Find((SEED / "model.tflite").read_bytes(), "model.tflite")
    bias = finder.op_inputs(9) + 8
    graph.check_graph(_edited(bias, (-1,)))  # passes the walk (LiteRT then runs it without a bias)


def test_a_tensor_declaring_gigabytes_is_refused(bundle):
    finder = _Find((SEED / "model.tflite").read_bytes(), "model.tflite")
    at = finder.shape_of_rank(2)
    graph.check_graph(_edited(at, (1, 10)))  # the neighbour: a small shape
    replace_file(bundle, "model.tflite", _edited(at, (1 << 20, 1 << 12)))  # 2^32 floats: 16 GiB
    with pytest.raises(ModelLoadError, match=r"declares \d+ bytes of tensors; the limit is"):
        load(bundle, backend="litert")


# ----------------------------------------------------------------------------- ONNX


def _onnx(nodes, initializers, inputs=(), output="y") -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in inputs],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        initializer=initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _ints(name, values):
    from onnx import TensorProto, helper

    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


@pytest.mark.parametrize("how", ["initializer", "constant_node"])
def test_constant_of_shape_asking_for_gigabytes_is_refused(bundle, how):
    from onnx import helper

    from edgernn.runtime.vet.onnx_proto import check_onnx

    def model(shape):
        node = helper.make_node("ConstantOfShape", ["shape"], ["y"])
        if how == "initializer":
            return _onnx([node], [_ints("shape", shape)])
        const = helper.make_node("Constant", [], ["shape"], value=_ints("v", shape))
        return _onnx([const, node], [])

    check_onnx(model([2, 3]))  # the neighbour
    hostile = model([1 << 20, 1 << 12, 10])
    assert len(hostile) < 400
    replace_file(bundle, "model.onnx", hostile)
    with pytest.raises(ModelLoadError, match=r"ConstantOfShape with constant shape \[1048576, 4096, 10\]"):
        load(bundle, backend="onnxruntime")


def test_a_loop_with_a_constant_trip_count_of_2_62_is_refused():
    from onnx import TensorProto, helper

    from edgernn.runtime.vet.onnx_proto import check_onnx

    def model(trips):
        body = helper.make_graph(
            [helper.make_node("Identity", ["cond"], ["cond_out"])],
            "body",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            ],
            [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])],
        )
        loop = helper.make_node("Loop", ["trips", "keep"], [], body=body)
        out = helper.make_node("Constant", [], ["y"], value=helper.make_tensor("c", TensorProto.FLOAT, [1], [0.0]))
        return _onnx([loop, out], [_ints("trips", [trips]), helper.make_tensor("keep", TensorProto.BOOL, [], [True])])

    check_onnx(model(16))  # the neighbour
    with pytest.raises(ModelLoadError, match=rf"Loop with a constant trip count of {1 << 62}"):
        check_onnx(model(1 << 62))


def test_initializers_declaring_gigabytes_are_refused():
    from onnx import TensorProto, helper

    from edgernn.runtime.vet.onnx_proto import check_onnx

    def model(dims):
        weights = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims, raw_data=bytes(16))  # no size check
        return _onnx([helper.make_node("Identity", ["w"], ["y"])], [weights])

    check_onnx(model([2, 2]))  # the neighbour: 16 bytes declared, 16 held
    with pytest.raises(ModelLoadError, match="initializers declare over"):
        check_onnx(model([1 << 20, 1 << 20]))


def _opened(source, tmp_path):
    """A copy of `source`, its model.tflite bytes, a reader on them, the opcodes and the first subgraph."""
    data = (source / "model.tflite").read_bytes()
    finder = _Find(data, "model.tflite")
    return (copy_bundle(source, tmp_path / source.name), data, finder, *finder.first())


def test_an_op_writing_into_a_constant_is_refused_not_a_segfault(tmp_path):
    """Found by fuzz/structure.py (1 in 3,000 tflite_index mutants of seed-gru): ADD's output set to the
    head's bias, a constant whose bytes are the file's own; LiteRT wrote into them and died (SIGSEGV)."""
    bundle, data, finder, codes, sub = _opened(MODELS / "seed-gru", tmp_path)
    tensors = finder.table_vector(sub, graph.SG_TENSORS)
    buffers = finder.table_vector(finder.deref(0), graph.M_BUFFERS)
    constant = next(
        i for i, t in enumerate(tensors) if finder.has_data(buffers, finder.scalar(t, graph.T_BUFFER, "<I", 0))
    )
    ops = finder.table_vector(sub, graph.SG_OPERATORS)
    add = next(op for op in ops if codes[finder.scalar(op, graph.OP_OPCODE, "<I", 0)] == 0)
    out = finder.vector(add, graph.OP_OUTPUTS, 4)[0]
    edited = bytearray(data)
    struct.pack_into("<i", edited, out, constant)
    assert load(bundle, backend="litert").predict(np.zeros((1, 4, 1), np.float32)).shape == (1, 1)  # neighbour
    replace_file(bundle, "model.tflite", bytes(edited))
    with pytest.raises(ModelLoadError, match=rf"writes tensors \[{constant}\] that are constants"):
        load(bundle, backend="litert")


def test_an_op_switched_to_a_builtin_of_another_arity_is_refused(tmp_path):
    """Found by fuzz/structure.py on sunspots-gru: LOGISTIC's opcode index edited to STRIDED_SLICE's, a
    four-input op given one input; LiteRT indexed past the list and died (SIGSEGV)."""
    bundle, data, finder, codes, sub = _opened(MODELS / "sunspots-gru", tmp_path)
    ops = finder.table_vector(sub, graph.SG_OPERATORS)
    logistic = next(op for op in ops if codes[finder.scalar(op, graph.OP_OPCODE, "<I", 0)] == 14)
    edited = bytearray(data)
    struct.pack_into("<I", edited, finder.field_pos(logistic, graph.OP_OPCODE), codes.index(45))
    graph.check_graph(data)  # the neighbour
    replace_file(bundle, "model.tflite", bytes(edited))
    with pytest.raises(ModelLoadError, match=r"builtin 45 takes 4..4 inputs, got 1"):
        load(bundle, backend="litert")


def test_an_opcode_made_custom_is_refused_by_the_one_walk_before_its_graph(tmp_path):
    """The walk reads the operator codes once, and a custom code is refused (named) before any graph
    check: with the op's tensors also out of range, the custom op is what the message says."""
    bundle, data, finder, codes, sub = _opened(MODELS / "seed-lstm", tmp_path)
    first = finder.table_vector(finder.deref(0), graph.M_CODES)[0]
    edited = bytearray(data)
    for field, fmt in ((0, "<b"), (3, "<i")):  # deprecated_builtin_code and builtin_code
        struct.pack_into(fmt, edited, finder.field_pos(first, field), 32)
    op = finder.table_vector(sub, graph.SG_OPERATORS)[0]
    struct.pack_into("<i", edited, finder.vector(op, graph.OP_INPUTS, 4)[0], 10**6)
    replace_file(bundle, "model.tflite", bytes(edited))
    with pytest.raises(UnsupportedModelError, match=r"uses custom or Flex ops \['<unnamed custom op>'\]"):
        load(bundle, backend="litert")
    assert float(load(MODELS / "seed-lstm", backend="litert").predict(X)[0, 0]) > 0  # the neighbour


@pytest.mark.parametrize(
    "case", ["tile_of_an_initializer", "empty_constant_of_shape"], ids=["rss-3.8GB", "sigabrt-in-gru"]
)
def test_the_onnx_fuzz_finds_of_the_native_graphs_are_refused(case, tmp_path):
    """Found by fuzz/structure.py on the native-op graphs of improved-simplernn and improved-gru: a Tile of
    the recurrent weights by [1, 2^20, 9] (repeats alone looked small: 3.8 GB resident) and a GRU fed a
    ConstantOfShape [0, 2^20, 1] (onnxruntime aborted, SIGABRT)."""
    import onnx
    from onnx import helper

    from edgernn.runtime.vet.onnx_proto import check_onnx

    name = "improved-simplernn" if case == "tile_of_an_initializer" else "improved-gru"
    model = onnx.load(MODELS / name / "model.onnx")
    check_onnx(model.SerializeToString())  # the neighbour: the shipped graph
    recurrent = next(n for n in model.graph.node if n.op_type in ("RNN", "GRU"))
    op, shape = ("Tile", [1, 1 << 20, 9]) if case == "tile_of_an_initializer" else ("ConstantOfShape", [0, 1 << 20, 1])
    model.graph.initializer.append(_ints("fuzz_shape", shape))
    inputs = [recurrent.input[2], "fuzz_shape"] if op == "Tile" else ["fuzz_shape"]
    model.graph.node.append(helper.make_node(op, inputs, ["fuzz_out"]))
    recurrent.input[0] = "fuzz_out"
    bundle = copy_bundle(MODELS / name, tmp_path / name)
    replace_file(bundle, "model.onnx", model.SerializeToString())
    with pytest.raises(ModelLoadError, match=rf"{op} with constant (repeats|shape) "):
        load(bundle, backend="onnxruntime")


def _bufferless(builtin: int, inputs: tuple[int, int] = (0, 1)) -> bytes:
    """One op reading `inputs` into tensor 2, every tensor on buffer 0 of a model with no buffers."""
    flatbuffers = pytest.importorskip("flatbuffers")
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    model, code, graph_t, op = schema.ModelT(), schema.OperatorCodeT(), schema.SubGraphT(), schema.OperatorT()
    model.version, code.builtinCode, code.deprecatedBuiltinCode, code.version = 3, builtin, min(builtin, 127), 1
    tensors = []
    for shape, kind in (([1, 4], 0), ([2], 2), ([4], 0)):  # float32, int32 (the shape), float32
        tensor = schema.TensorT()
        tensor.shape, tensor.type, tensor.buffer = shape, kind, 0
        tensors.append(tensor)
    op.opcodeIndex, op.inputs, op.outputs = 0, list(inputs), [2]
    graph_t.tensors, graph_t.inputs, graph_t.outputs, graph_t.operators = tensors, [0, 1], [2], [op]
    model.operatorCodes, model.subgraphs, model.buffers = [code], [graph_t], []
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("builtin", [22, 94, 130], ids=["RESHAPE", "FILL", "BROADCAST_TO"])
def test_an_op_shaped_by_a_constant_in_a_model_without_buffers_is_walked(builtin):
    """The walk read the shape's buffer of a model that has none (an IndexError, found in review): with no
    constant to read the shape is the interpreter's to bound, as for any computed shape."""
    graph.check_graph(_bufferless(builtin), "bufferless.tflite")
    with pytest.raises(ModelLoadError):  # the neighbour: the same file reading a tensor it lacks
        graph.check_graph(_bufferless(builtin, (0, 7)), "bufferless.tflite")
