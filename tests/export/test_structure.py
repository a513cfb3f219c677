"""Structure, not only numbers: op sets, names, forms and the manifest's records."""

from collections import Counter

import onnx
import pytest

from edgernn.runtime.bundle import sha256_bytes
from edgernn.runtime.vet.tflite_ops import custom_ops

from conftest import ZOO, ZOO_IDS
from helpers import artifact_json as artifact
from helpers import manifest_json

CELL_OF = {e.id: e for e in ZOO}


@pytest.mark.parametrize("zoo_id", ZOO_IDS)
def test_tflite_is_builtin_only_unrolled_with_a_free_batch(zoo_bundles, zoo_id):
    path = zoo_bundles[zoo_id]
    assert custom_ops((path / "model.tflite").read_bytes()) == []
    art = artifact(path, "tflite")
    assert art["graph_form"] == "unrolled" and art["batch"] == "dynamic"
    assert "WHILE" not in art["ops"] and not any(op.startswith("Flex") for op in art["ops"])
    assert art["graph_form_reason"]


@pytest.mark.parametrize("zoo_id", ZOO_IDS)
def test_onnx_names_batch_opset_and_form_per_cell(zoo_bundles, zoo_id):
    path = zoo_bundles[zoo_id]
    proto = onnx.load(path / "model.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = Counter(n.op_type for n in proto.graph.node)
    art = artifact(path, "onnx")
    assert art["ops"] == dict(sorted(ops.items()))
    assert art["opset"] == next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    # Every zoo cell is written with ONNX's own op, one per recurrent layer: no Loop, no unrolled chain
    op = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}[CELL_OF[zoo_id].cell]
    layers = len(CELL_OF[zoo_id].units)
    assert art["graph_form"] == "native" and ops[op] == layers and "Loop" not in ops and "Scan" not in ops
    assert not {"Tanh", "Sigmoid", "MatMul"} & set(ops)  # the gates and the head (Gemm) are fused


def test_manifest_records_hashes_sizes_errors_and_versions(seed_bundle):
    man = manifest_json(seed_bundle)
    assert man["format"] == "edgernn-bundle" and man["schema_version"] == 1
    entries = [*man["artifacts"], man["golden"], man["source"]]
    assert {e["file"] for e in entries} == {"model.tflite", "model.onnx", "model.npz", "golden.npz", "model.keras"}
    for e in entries:
        data = (seed_bundle / e["file"]).read_bytes()
        assert e["bytes"] == len(data) and e["sha256"] == sha256_bytes(data)
    for a in man["artifacts"]:
        assert 0 <= a["max_abs_error"] <= a["tolerance"] == 1e-5
    for key in ("tensorflow", "keras", "tf2onnx", "onnx"):
        assert any(k.startswith(key) for k in man["producer"]), key
    assert man["input"] == {"name": "input", "timesteps": 4, "features": 1, "dtype": "float32"}


def test_bundle_folder_holds_only_what_the_manifest_lists(seed_bundle):
    man = manifest_json(seed_bundle)
    listed = {a["file"] for a in man["artifacts"]} | {man["golden"]["file"], man["source"]["file"], "manifest.json"}
    assert {p.name for p in seed_bundle.iterdir()} == listed
