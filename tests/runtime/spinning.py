"""Hostile models that pass every static check and then never finish: built from real files by small edits.

- `spinning_onnx()`: a Loop whose trip count comes from the input (max |x| * 1e12), so no reader can
  bound it; a tiny input (1e-9) runs in microseconds, a 1.0 spins for ~1e12 iterations.
- `hungry_onnx()`: a ConstantOfShape of max |x| * 2^28 floats (1 GiB at x = 1), its shape computed from the
  input, so no reader can bound it; the answer is the window mean, whatever the size.
- `spinning_tflite(content)`: a shipped `while_batch1` LiteRT file whose loop body adds the counter to
  itself instead of adding 1: the counter stays 0, the WHILE never ends (two 4-byte edits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers import copy_bundle, edit_manifest, manifest_json, replace_file


def spinning_onnx() -> bytes:
    """input (N, 4, 1) -> output (N, 1): the mean over time, carried through a Loop of max(x) * 1e12 trips."""
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]), helper.make_node("Identity", ["v"], ["v_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean3"], axes=[1], keepdims=0),
        helper.make_node("Identity", ["mean3"], ["mean"]),
        helper.make_node("ReduceMax", ["input"], ["peak"], keepdims=0),
        helper.make_node("Abs", ["peak"], ["abs"]),
        helper.make_node("Mul", ["abs", "huge"], ["trips_f"]),
        helper.make_node("Cast", ["trips_f"], ["trips"], to=TensorProto.INT64),
        helper.make_node("Loop", ["trips", "keep", "mean"], ["output"], body=body),
    ]
    graph = helper.make_graph(
        nodes,
        "spin",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1])],
        initializer=[
            helper.make_tensor("huge", TensorProto.FLOAT, [], [1e12]),
            helper.make_tensor("keep", TensorProto.BOOL, [], [True]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def hungry_onnx() -> bytes:
    """input (N, 4, 1) -> output (N, 1): the mean over time, plus 0 x the sum of max|x| * 2^28 ones."""
    from onnx import TensorProto, helper

    one = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=0),
        helper.make_node("ReduceMax", ["input"], ["peak"], keepdims=0),
        helper.make_node("Abs", ["peak"], ["abs"]),
        helper.make_node("Mul", ["abs", "elems"], ["n_f"]),
        helper.make_node("Cast", ["n_f"], ["n"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["n", "one"], ["shape"]),
        helper.make_node("ConstantOfShape", ["shape"], ["big"], value=one),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["mean", "nothing"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hungry",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1])],
        initializer=[
            helper.make_tensor("elems", TensorProto.FLOAT, [], [2.0**28]),
            helper.make_tensor("one", TensorProto.INT64, [1], [1]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def spinning_tflite(content: bytes) -> bytes:
    """`content` (a while_batch1 .tflite) with every `counter + 1` ADD of its loop body made `counter + counter`."""
    from ai_edge_litert import schema_py_generated as schema

    buf = bytearray(content)
    model = schema.Model.GetRootAs(buf, 0)
    add = schema.BuiltinOperator.ADD
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    edits = 0
    for g in range(1, model.SubgraphsLength()):  # the WHILE's cond and body subgraphs
        sub = model.Subgraphs(g)
        counters = set(sub.InputsAsNumpy()[:2].tolist())  # the loop's two int32 counters come first
        for o in range(sub.OperatorsLength()):
            op = sub.Operators(o)
            code = codes[op.OpcodeIndex()]
            if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != add:
                continue
            inputs = op.InputsAsNumpy()  # a view into `buf`: writing it edits the file
            if int(inputs[0]) in counters and sub.Tensors(int(inputs[0])).Type() == schema.TensorType.INT32:
                inputs[1] = inputs[0]
                edits += 1
    if not edits:
        raise ValueError("no `counter + 1` ADD found: not a while_batch1 file")
    return bytes(np.frombuffer(buf, dtype=np.uint8))


def while_bundle(seed: Path, dst: Path) -> Path:
    """A copy of `seed` whose model.dynamic.tflite is a while_batch1 file: the shipped one when it is one
    (bundles written before issue 18 moved the variants to the any-batch unrolled form), else the
    float32 WHILE form of its model.keras (model units: these tests need the loop, not the answers)."""
    bundle = copy_bundle(seed, dst)
    entry = next(a for a in manifest_json(seed)["artifacts"] if a["file"] == "model.dynamic.tflite")
    if entry["graph_form"] == "while_batch1":
        return bundle
    from edgernn.export.formats.tflite.convert import clone_for, convert
    from edgernn.export.keras_io import load_keras

    clone, _ = clone_for(load_keras(seed / "model.keras"), "while_batch1")
    replace_file(bundle, "model.dynamic.tflite", convert(clone))

    def retag(m):
        for a in m["artifacts"]:
            if a["file"] == "model.dynamic.tflite":
                a.update(graph_form="while_batch1", batch=1)

    edit_manifest(bundle, retag)
    return bundle


def spinning_bundle(seed: Path, dst: Path, file: str) -> Path:
    """A copy of the bundle `seed` with `file` (model.onnx, or a while_batch1 .tflite) made to spin, or with
    `file` "hungry": model.onnx made hungry_onnx()."""
    if file == "hungry":
        file, data = "model.onnx", hungry_onnx()
    else:
        data = spinning_onnx() if file.endswith(".onnx") else spinning_tflite((seed / file).read_bytes())
    bundle = copy_bundle(seed, dst)
    replace_file(bundle, file, data)
    return bundle
