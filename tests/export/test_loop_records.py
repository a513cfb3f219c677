"""What the hand-built loop files say about themselves: op versions an older runtime picks kernels by,
and the wiring the loop assumes (export/formats/tflite/flatgraph.py, int8_loop.py).

The converter is the reference for versions: an op written with an int8 version over float tensors
loads on tflite-runtime 2.14 and computes wrong numbers there (LSTM(64) dynamic: p99 error 38% of the
output range, found in review).
"""

import numpy as np
import pytest

from edgernn.export import inspect_model
from edgernn.export.formats.tflite.int8_loop import build_dynamic_loop, loop_refusal
from edgernn.runtime.errors import ExportError

CHECKED = {"FULLY_CONNECTED", "ADD", "MUL", "LOGISTIC", "TANH", "SPLIT"}


def versions(content: bytes) -> dict[tuple[str, str], int]:
    """{(op, dtype of its data input): version} over every subgraph of a .tflite file; a FULLY_CONNECTED
    that keeps its time axis (keep_num_dims, version 5) is the op "FULLY_CONNECTED/keep"."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    ops = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    found: dict[tuple[str, str], set[int]] = {}
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            name = ops[max(code.builtinCode, code.deprecatedBuiltinCode)]
            data = op.inputs[1 if name == "SPLIT" else 0]  # SPLIT's input 0 is its axis
            if name == "FULLY_CONNECTED" and op.builtinOptions.keepNumDims:
                name += "/keep"
            found.setdefault((name, types[graph.tensors[data].type]), set()).add(code.version)
    assert all(len(v) == 1 for v in found.values()), found  # one version per op signature
    return {key: v.pop() for key, v in found.items()}


@pytest.fixture(scope="module")
def converter_versions():
    """Versions the TF converter writes for the loop's op types, float32, dynamic-range and int8."""
    import keras
    import tensorflow as tf

    inp = keras.Input((6, 3))
    gates = keras.layers.Dense(256)(keras.layers.Flatten()(inp))
    a, b = keras.ops.split(gates, 2, axis=-1)
    mixed = keras.layers.Dense(1100)(keras.ops.sigmoid(a) * keras.ops.tanh(b) + a)  # > 1,024 weights
    model = keras.Model(inp, keras.layers.Dense(2)(mixed))
    rng = np.random.default_rng(0)
    found = {}
    for kind in ("float32", "dynamic", "int8"):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        if kind != "float32":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if kind == "int8":
            conv.representative_dataset = lambda: ([rng.random((1, 6, 3), np.float32)] for _ in range(8))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int8
        found[kind] = versions(conv.convert())
    return found


@pytest.mark.parametrize("variant", ["int8", "dynamic"])
def test_loop_op_versions_are_the_converters(quant_bundle, converter_versions, variant):
    ours = versions((quant_bundle / f"model.{variant}.tflite").read_bytes())
    theirs = converter_versions[variant]
    shared = ours.keys() & theirs.keys()
    assert {name for name, _ in shared} >= CHECKED, sorted(ours)  # the comparison covers the step's ops
    assert {key: ours[key] for key in shared} == {key: theirs[key] for key in shared}
    if variant == "dynamic":  # neighbour: the float ops are version 1, the int8-weight FC is not
        assert ours["TANH", "float32"] == 1 and ours["FULLY_CONNECTED", "float32"] > 1


def _state_c_head():
    import keras

    inp = keras.Input((12, 3))
    _, _, c = keras.layers.LSTM(64, return_state=True)(inp)
    return keras.Model(inp, keras.layers.Dense(2)(c))  # the head reads the cell state, not h


def _shared_dense():
    import keras

    inp = keras.Input((12, 3))
    shared = keras.layers.Dense(64, activation="relu")
    return keras.Model(inp, keras.layers.Dense(2)(shared(shared(keras.layers.LSTM(64)(inp)))))


@pytest.mark.parametrize("make", [_state_c_head, _shared_dense], ids=["head-on-c", "dense-called-twice"])
def test_a_model_wired_unlike_its_layer_list_is_refused(make):
    import keras

    model = make()
    info = inspect_model(model)
    assert loop_refusal(info) == ""  # its layer list reads LSTM(64) -> Dense: only the wiring tells
    with pytest.raises(ExportError, match="chain of layers"):
        build_dynamic_loop(model, info)
    chain = keras.Sequential([keras.Input((12, 3)), keras.layers.LSTM(64), keras.layers.Dense(2)])
    assert build_dynamic_loop(chain, inspect_model(chain))[4:8] == b"TFL3"  # neighbour: a chain is written
