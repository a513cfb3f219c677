"""The numpy backend beyond the zoo: merge modes, go_backwards, sequence output, activations, no bias,
non-zero biases everywhere; and its guards on the .npz it reads, each next to its passing neighbour."""

import io
import json

import numpy as np
import pytest

from edgernn.export import export_bundle
from edgernn.runtime import Bundle, ExportError, InputError, ManifestError, ModelLoadError, UnsupportedModelError, load
from edgernn.runtime.backends import open_window
from edgernn.runtime.compare import compare
from edgernn.runtime.manifest import Manifest

from conftest import MODELS, OPTION_IDS
from helpers import installed_default_backends, manifest_json


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", OPTION_IDS)
def test_numpy_backend_matches_keras_beyond_the_zoo(zoo_models, zoo_bundles, name, batch):
    model = zoo_models[name]
    x = np.random.default_rng(batch).uniform(-2, 2, (batch, 5, 2)).astype(np.float32)
    ref = np.asarray(model(x, training=False))
    got = load(zoo_bundles[name], backend="numpy").predict(x)
    result = compare(ref, got, 1e-5)
    assert result, f"{name}: {result.describe()}"


def test_unknown_activation_is_refused_at_export_and_a_known_one_exports(tmp_path):
    import keras

    def model(act):
        return keras.Sequential([keras.Input((4, 1)), keras.layers.GRU(3), keras.layers.Dense(2, activation=act)])

    assert export_bundle(model("relu"), tmp_path / "ok", formats=("numpy",)).path.exists()
    with pytest.raises(ExportError, match="'gelu'.*without the 'numpy' format"):
        export_bundle(model("gelu"), tmp_path / "bad", formats=("numpy",))
    assert not (tmp_path / "bad").exists()


SEED = MODELS / "seed-gru"


def _numpy_entry(path):
    bundle = Bundle.open(path)
    entry = bundle.manifest.artifacts(formats=("numpy",))[0]
    return bundle, entry


def _artifact():
    bundle, entry = _numpy_entry(SEED)
    return bundle.read(entry), entry, bundle.manifest.spec


def _rewrite(content: bytes, change) -> bytes:
    """The npz with `change(arrays)` applied (arrays includes the 'spec' string)."""
    with np.load(io.BytesIO(content), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _spec_edit(edit):
    def change(arrays):
        spec = json.loads(str(arrays["spec"]))
        edit(spec)
        arrays["spec"] = np.array(json.dumps(spec))

    return change


def _first_kernel(arrays):
    return next(k for k in arrays if k.endswith("/kernel"))


@pytest.mark.parametrize(
    "change,error,match",
    [
        (_spec_edit(lambda s: s.update(version=99)), ModelLoadError, "spec version 99"),
        (lambda a: a.pop(_first_kernel(a)), ModelLoadError, "lacks"),
        (lambda a: a.update({_first_kernel(a): a[_first_kernel(a)][:, :-1]}), ModelLoadError, r"expected float \("),
        (lambda a: a.update(spec=np.array([{"layers": []}], dtype=object)), ModelLoadError, "pickles"),
        (_spec_edit(lambda s: s["layers"].insert(0, {"kind": "conv3d"})), UnsupportedModelError, "conv3d"),
        (_spec_edit(lambda s: s["layers"][0].update(activation="gelu")), UnsupportedModelError, "gelu"),
        (_spec_edit(lambda s: s["layers"].pop()), ManifestError, "output shape"),
        (lambda a: a.update({_first_kernel(a): np.vstack([a[_first_kernel(a)]] * 2)}), ManifestError, "input shape"),
        (_spec_edit(lambda s: s.update(timesteps=5)), ManifestError, "input shape"),
    ],
)
def test_damaged_numpy_artifact_is_refused_and_the_intact_one_runs(change, error, match):
    content, entry, spec = _artifact()
    intact = open_window("numpy", content, entry, spec)
    assert intact.run(np.zeros((2, 4, 1), np.float32)).shape == (2, 1)
    with pytest.raises(error, match=match):
        open_window("numpy", _rewrite(content, change), entry, spec)


def test_auto_falls_to_numpy_when_only_the_npz_is_there_and_prefers_the_registry_order_otherwise(zoo_bundles):

    assert load(zoo_bundles["bidi-sum"]).backend == "numpy"
    assert load(SEED).backend == installed_default_backends()[0] == "litert"


def test_flipped_byte_in_the_npz_is_an_integrity_error(tmp_path):
    import shutil

    from edgernn.runtime import IntegrityError

    bundle = tmp_path / "b"
    shutil.copytree(SEED, bundle)
    load(bundle, backend="numpy")  # neighbour: the untouched copy loads
    path = bundle / "model.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model.npz"):
        load(bundle, backend="numpy")


@pytest.mark.parametrize(
    "zoo_id,kinds",
    [
        ("simple_rnn-stacked", ["simple_rnn", "simple_rnn", "dense"]),
        ("gru-reset_before", ["gru", "dense"]),
        ("gru-bidirectional-multi", ["bidirectional", "dense"]),
    ],
)
def test_numpy_artifact_records_layers_gates_and_its_proof(zoo_bundles, zoo_id, kinds):
    """Structure: the manifest entry and the npz's own spec say what the backend will run."""
    from edgernn.runtime.backends.numpy_ref import read_npz

    bundle, entry = _numpy_entry(zoo_bundles[zoo_id])
    assert entry.file == "model.npz" and entry.graph_form == "reference" and entry.verified_with == ("numpy",)
    assert 0 <= entry.max_abs_error <= entry.tolerance == 1e-5
    spec, arrays = read_npz(bundle.read(entry), entry.file)
    assert [layer["kind"] for layer in spec["layers"]] == kinds
    first = spec["layers"][0]
    if zoo_id == "gru-reset_before":
        assert first["reset_after"] is False and arrays[first["bias"]].shape == (18,)  # 3 gates x 6 units, one bias
    if zoo_id == "gru-bidirectional-multi":
        assert first["merge_mode"] == "concat" and first["backward"]["go_backwards"] is True
        assert arrays[first["forward"]["bias"]].shape == (2, 15)  # reset_after: input and recurrent biases
        assert arrays[first["forward"]["kernel"]].shape == (3, 15)  # 3 features, gates z,r,h x 5 units
    assert all(a.dtype == np.float32 for a in arrays.values())


def _step_names(bundle):
    """x_t and the state names in the streaming convention (state_<i>_h, and _c for LSTM), and the outputs."""
    cells = Manifest.read(bundle).model.cells
    states = [f"state_{i}_{k}" for i, cell in enumerate(cells) for k in (("h", "c") if cell == "lstm" else ("h",))]
    return ["x_t", *states], ["y_t", *(f"next_{s}" for s in states)]


@pytest.mark.parametrize(
    "zoo_id", ["simple_rnn-stacked", "lstm-stacked", "gru-single", "gru-reset_before", "simple_rnn-multi"]
)
def test_numpy_step_mode_from_zero_state_ends_where_keras_does(zoo_models, zoo_bundles, zoo_id):
    """Stepping a window one sample at a time, the last output is Keras's output for the window."""
    from edgernn.runtime.backends import numpy_ref

    path = zoo_bundles[zoo_id]
    bundle, entry = _numpy_entry(path)
    inputs, outputs = _step_names(path)
    stepper = numpy_ref.open_step(bundle.read(entry), entry, inputs, outputs)
    model = zoo_models[zoo_id]
    x = np.random.default_rng(5).uniform(-1, 1, (3, *model.inputs[0].shape[1:])).astype(np.float32)
    states = [np.zeros((3, w), np.float32) for w in stepper.state_widths]
    for t in range(x.shape[1]):
        y, *states = stepper.run_step([x[:, t], *states])
    assert len(states) == len(inputs) - 1
    result = compare(np.asarray(model(x, training=False)), y, 1e-5)
    assert result, result.describe()


def test_numpy_step_mode_refuses_bidirectional_and_a_wrong_state_count(zoo_bundles):
    from edgernn.runtime.backends import numpy_ref

    def entry_of(path):
        bundle, entry = _numpy_entry(path)
        return bundle.read(entry), entry

    content, entry = entry_of(zoo_bundles["lstm-single"])
    numpy_ref.open_step(content, entry, ["x_t", "state_0_h", "state_0_c"], ["y_t", "next_h", "next_c"])  # neighbour
    with pytest.raises(ModelLoadError, match="carry 2 states"):
        numpy_ref.open_step(content, entry, ["x_t", "state_0_h"], ["y_t", "next_h"])
    content, entry = entry_of(zoo_bundles["lstm-bidirectional"])
    with pytest.raises(UnsupportedModelError, match="Bidirectional"):
        numpy_ref.open_step(content, entry, ["x_t"], ["y_t"])


def test_a_wrong_window_reaching_the_numpy_backend_is_an_input_error_and_the_next_call_is_exact():
    """run_model_units skips the Predictor's checks; the equations would run any length, the backend does not."""
    predictor = load(SEED, backend="numpy")
    x = np.random.default_rng(2).uniform(-1, 1, (3, 4, 1)).astype(np.float32)
    before = predictor.run_model_units(x)
    for bad in (np.zeros((3, 5, 1), np.float32), np.zeros((2, 4, 7), np.float32)):
        with pytest.raises(InputError, match=r"expected model-unit windows \(batch, 4, 1\)"):
            predictor.run_model_units(bad)
    np.testing.assert_array_equal(predictor.run_model_units(x), before)


def test_auto_order_follows_the_measured_rule():
    """Registry order (litert, onnxruntime, numpy) with the two measured exceptions, on real manifests."""
    from edgernn.runtime.backends import LONG_LSTM_STEPS, auto_order

    every = ("litert", "onnxruntime", "numpy")

    def onnx_form(raw, form):  # the manifest with its ONNX artifact in this graph form (models/ may hold either)
        return Manifest.parse({**raw, "artifacts": [{**a, "graph_form": form} for a in raw["artifacts"]]})

    raw, rnn_raw = manifest_json(MODELS / "seed-lstm"), manifest_json(MODELS / "seed-simplernn")
    assert auto_order(Manifest.parse(raw), every) == list(every)  # the seed LSTM is short: LiteRT's graph wins
    assert auto_order(Manifest.read(SEED), ("onnxruntime", "numpy")) == ["onnxruntime", "numpy"]  # GRU
    rnn = onnx_form(rnn_raw, "unrolled")  # tf2onnx's graph: numpy's equations beat it
    assert auto_order(rnn, every) == ["litert", "numpy", "onnxruntime"]
    assert auto_order(rnn, ("onnxruntime", "numpy")) == ["numpy", "onnxruntime"]
    assert auto_order(onnx_form(rnn_raw, "native"), every) == list(every)  # the native RNN op beats numpy
    long_lstm = {**raw, "input": {**raw["input"], "timesteps": LONG_LSTM_STEPS}}
    for form in ("fused", "native"):  # tf2onnx's LSTM op, or the same op written natively
        assert auto_order(onnx_form(long_lstm, form), every) == ["onnxruntime", "litert", "numpy"]
    assert auto_order(onnx_form(long_lstm, "unrolled"), every) == list(every)  # only the LSTM op earns the swap
