"""`edgernn validate` and `edgernn bench`: exit codes, JSON fields, the plot, and the lean hot path."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgernn.export.reference import keras_baselines
from edgernn.runtime import Bundle, backends, load
from edgernn.runtime.cli import main
from edgernn.runtime.cli.bench import ROW_FIELDS
from edgernn.runtime.errors import InputError
from edgernn.runtime.validate import GOLDEN

from conftest import MODELS, ROOT
from helpers import default_backends, installed_default_backends, manifest_json

SHIPPED = sorted(p for p in MODELS.iterdir() if (p / "manifest.json").exists())
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Runs the CLI in a fresh process where tensorflow, keras and tf2onnx (and any runtimes named in the
# first argument) look uninstalled: a None entry in sys.modules makes `import` raise ImportError and
# importlib.util.find_spec() return None, exactly as for a package that is not there. The device case.
NO_TF = textwrap.dedent("""
    import json, sys
    for name in ['tensorflow', 'keras', 'tf2onnx', 'tf_keras'] + sys.argv.pop(1).split(','):
        if name:
            sys.modules[name] = None
    from edgernn.runtime.cli import main
    code = main(sys.argv[1:])
    sys.stdout.flush()
    print('EXIT', code, sorted(m for m, v in sys.modules.items()
                               if v is not None and m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx')))
""")


HIDE = {"litert": "ai_edge_litert,tflite_runtime", "onnxruntime": "onnxruntime"}


def run_without_tf(*args: str, hide: str = "") -> tuple[int, str, str]:
    out = subprocess.run(
        [sys.executable, "-c", NO_TF, hide, *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("EXIT"), out.stderr
    _, code, heavy = last.split(" ", 2)
    assert heavy == "[]"
    return int(code), out.stdout.rsplit("EXIT", 1)[0], out.stderr


@pytest.fixture()
def bundle_copy(tmp_path):
    """A writable copy of the shipped seed LSTM bundle."""
    return shutil.copytree(MODELS / "seed-lstm", tmp_path / "seed-lstm")


@pytest.mark.parametrize("bundle", SHIPPED, ids=[p.name for p in SHIPPED])
def test_validate_passes_on_shipped_bundle_with_only_the_runtime(bundle):
    code, out, _ = run_without_tf("validate", str(bundle), "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert {r["backend"] for r in report["rows"]} == set(installed_default_backends())
    assert {r["file"] for r in report["rows"]} == {a["file"] for a in manifest_json(bundle)["artifacts"]}
    assert all(r["max_abs_error"] <= r["tolerance"] for r in report["rows"])


@pytest.mark.parametrize("only", default_backends())
def test_validate_and_bench_work_with_only_one_runtime(only):
    hide = ",".join(v for k, v in HIDE.items() if k != only)
    code, out, _ = run_without_tf("validate", str(MODELS / "seed-lstm"), "--json", hide=hide)
    rows = json.loads(out)["rows"]
    present = {only, "numpy"}  # the numpy backend needs no runtime package: it cannot be hidden, nor missing
    assert code == 0 and {r["backend"] for r in rows} == present and all(r["passed"] for r in rows)
    code, out, _ = run_without_tf("bench", str(MODELS / "seed-lstm"), "--json", "--cold-runs", "1", hide=hide)
    result = json.loads(out)
    files = [
        a["file"]
        for a in manifest_json(MODELS / "seed-lstm")["artifacts"]
        if any(a["format"] in backends.formats_of(b) for b in present)
    ]
    assert code == 0 and {r["backend"] for r in result["rows"]} == present and result["baselines"] == []
    assert sorted(r["file"] for r in result["rows"]) == sorted(files)


def test_validate_fresh_without_tensorflow_names_the_extra():
    code, _, err = run_without_tf("validate", str(MODELS / "seed-gru"), "--fresh", "3")
    assert code == 4 and "edgernn[train]" in err  # 4: a missing extra


@pytest.mark.parametrize("victim", ["model.tflite", "model.onnx", "golden.npz", "model.keras"])
def test_validate_exits_3_on_one_flipped_byte(bundle_copy, victim, capsys):
    assert main(["validate", str(bundle_copy)]) == 0  # the untouched copy passes
    data = bytearray((bundle_copy / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle_copy / victim).write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["validate", str(bundle_copy), "--json"]) == 3
    captured = capsys.readouterr()
    assert "IntegrityError" in captured.err and victim in captured.err
    assert json.loads(captured.out)["passed"] is False


def test_validate_exits_1_when_a_tolerance_is_tightened_below_the_error(bundle_copy, capsys):
    assert main(["validate", str(bundle_copy), "--json"]) == 0
    measured = {r["file"]: r["max_abs_error"] for r in json.loads(capsys.readouterr().out)["rows"]}
    assert measured["model.tflite"] > 0
    manifest = manifest_json(bundle_copy)
    for art in manifest["artifacts"]:
        if art["file"] == "model.tflite":
            art["tolerance"] = measured["model.tflite"] / 2
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    assert main(["validate", str(bundle_copy), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["file"] for r in rows if not r["passed"]} == {"model.tflite"}
    assert all(r["passed"] for r in rows if r["file"] != "model.tflite")


def test_a_bundle_shipped_without_model_keras_validates_but_cannot_do_fresh(bundle_copy, capsys):
    (bundle_copy / "model.keras").unlink()  # a device bundle may drop the source; its hash is then skipped
    assert main(["validate", str(bundle_copy)]) == 0
    assert main(["validate", str(bundle_copy), "--fresh", "2"]) == 3
    assert "model.keras" in capsys.readouterr().err


def test_validate_backend_and_variant_filters(capsys):
    name = installed_default_backends()[0]
    assert main(["validate", str(MODELS / "seed-lstm"), "--backend", name, "--json"]) == 0
    assert {r["backend"] for r in json.loads(capsys.readouterr().out)["rows"]} == {name}
    assert main(["validate", str(MODELS / "seed-gru"), "--variant", "int8", "--json"]) == 2  # it has none
    assert json.loads(capsys.readouterr().out)["rows"] == []
    assert main(["validate", str(MODELS / "seed-lstm"), "--variant", "int8", "--json"]) == 0  # seed-lstm ships int8
    assert {r["variant"] for r in json.loads(capsys.readouterr().out)["rows"]} == {"int8"}


def test_validate_fresh_compares_with_keras_on_new_windows(capsys):
    assert main(["validate", str(MODELS / "seed-simplernn"), "--fresh", "5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    fresh = [r for r in rows if r["reference"] == "fresh:5"]
    assert len(fresh) == len([r for r in rows if r["reference"] == GOLDEN]) > 0
    assert all(r["samples"] == 5 and r["passed"] for r in fresh)


def test_bench_json_has_the_fields_and_the_plot_is_a_png(tmp_path, capsys):
    png = tmp_path / "bench.png"
    args = ["bench", str(MODELS / "seed-gru"), "--json", "--cold-runs", "1", "--no-baselines", "--plot", str(png)]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert {r["backend"] for r in result["rows"]} == set(installed_default_backends())
    assert {r["file"] for r in result["rows"]} == {a["file"] for a in manifest_json(MODELS / "seed-gru")["artifacts"]}
    for row in result["rows"]:
        assert set(ROW_FIELDS) <= set(row)
        text = ("file", "format", "variant", "graph_form", "backend")
        skip = text + (("cold_start_ms",) if row["graph_form"] == "step" else ())  # step rows: no cold start
        numbers = [row[k] for k in ROW_FIELDS if k not in skip]
        assert all(isinstance(v, (int, float)) and v > 0 for v in numbers), row
        assert row["p50_us"] <= row["p90_us"] <= row["p99_us"]
    assert result["machine"]["versions"]["numpy"] == np.__version__
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert not list(tmp_path.glob(".plot-*")), "the plot's temp file was left behind"


def test_bench_plain_table_lists_every_pair(capsys):
    assert main(["bench", str(MODELS / "seed-lstm"), "--cold-runs", "0", "--no-baselines"]) == 0
    out = capsys.readouterr().out
    assert "p50 us" in out and "samples/s b1024" in out
    for name in installed_default_backends():
        assert name in out


def test_a_failing_cold_start_child_is_a_row_value_and_the_bench_goes_on(tmp_path, monkeypatch):
    """The cold-start child (python -I: no PYTHONPATH or sitecustomize reaches it) is started through a
    wrapper that hides onnxruntime from it, so it fails while this process runs it: the onnxruntime rows
    say why, and the numpy row beside them still has its figure."""
    import shlex
    import sys

    from edgernn.runtime.cli.bench import bench
    from edgernn.runtime.cli.bench_report import table_rows

    wrapper = tmp_path / "python"
    wrapper.write_text(
        "#!/bin/sh\n# called as: python -I -c CODE\n"
        f'exec {shlex.quote(sys.executable)} "$1" -c "import sys; sys.modules[\'onnxruntime\'] = None\n$3"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(wrapper))
    result = bench(MODELS / "seed-gru", ["onnxruntime", "numpy"], ["float32"], cold_runs=1, max_seconds=0.05)
    windows = {r["backend"]: r for r in result["rows"] if r["graph_form"] != "step"}
    assert windows["numpy"]["cold_start_ms"] > 0 and "cold_start_error" not in windows["numpy"]
    failed = windows["onnxruntime"]
    assert failed["cold_start_ms"] is None and failed["p50_us"] > 0
    why = failed["cold_start_error"]
    assert "cold start of variant 'float32' on onnxruntime failed in a fresh process (exit 1)" in why
    assert "BackendUnavailableError: backend 'onnxruntime' is not installed" in why
    assert ["model.onnx", "onnxruntime"] in [row[:2] for row in table_rows(result) if row[4] == "failed"]


def test_keras_baselines_have_the_bench_fields():
    rows = keras_baselines(Bundle.open(MODELS / "seed-lstm"), max_seconds=0.1)
    assert [r["backend"] for r in rows] == ["keras predict", "keras eager"]
    for row in rows:
        assert set(ROW_FIELDS) <= set(row) and row["p50_us"] > 0 and row["throughput_b64"] > 0


# --- the hot path: lean, but every check kept and every result exact ---------------------------


def reference_predict(predictor, raw: np.ndarray) -> np.ndarray:
    """The unfolded formula, in float32 arrays: (raw - offset) * scale -> model -> / scale + offset."""
    spec = predictor.spec
    ym = predictor.run_model_units((raw.astype(np.float32) - spec.x.offset) * spec.x.scale)
    return (ym / spec.y.scale + spec.y.offset).astype(np.float32)


def serial_answer(predictor, raw: np.ndarray) -> np.ndarray:
    """What predict must return exactly: the file's own answer for a folded bundle (models/ regenerated
    after folding), else the unfolded formula."""
    if predictor.spec.folded:
        return predictor.runner.run(np.ascontiguousarray(raw, dtype=np.float32))
    return reference_predict(predictor, raw)


@pytest.fixture(scope="session")
def per_channel_bundle(zoo_models, tmp_path_factory):
    from edgernn.export import export_bundle

    return export_bundle(
        zoo_models["simple_rnn-multi"],
        tmp_path_factory.mktemp("pc") / "b",
        formats=("tflite", "onnx", "numpy"),
        scale=[0.5, 2.0, 0.25],
        offset=[1.0, -1.0, 0.0],
        output_scale=[2.0, 0.5],
        output_offset=[0.0, 3.0],
        fold=False,  # the Python maps: bundles written before folding, or where it is not exact
    ).path


@pytest.mark.parametrize("backend", default_backends())
def test_folded_predict_is_the_artifacts_own_answer(backend, zoo_models, tmp_path_factory):
    """Folded bundles run no map: predict is bit-identical to the runtime's call on the raw window, and
    within the 1e-5 model-unit bound of the unfolded formula."""
    from edgernn.export import export_bundle

    maps = dict(scale=[0.5, 2.0, 0.25], offset=[1.0, -1.0, 0.0], output_scale=[2.0, 0.5], output_offset=[0.0, 3.0])
    path = export_bundle(zoo_models["simple_rnn-multi"], tmp_path_factory.mktemp("fold") / "b", **maps).path
    p = load(path, backend=backend)
    assert p.spec.folded
    raw = np.random.default_rng(3).uniform(-20, 20, (70, p.spec.timesteps, p.spec.features)).astype(np.float32)
    for batch in (1, 2, 70):
        np.testing.assert_array_equal(p.predict(raw[:batch]), p.runner.run(raw[:batch]))
        np.testing.assert_allclose(p.predict(raw[:batch]), reference_predict(p, raw[:batch]), atol=1e-5 / 0.5, rtol=0)


@pytest.mark.parametrize("backend", default_backends())
@pytest.mark.parametrize("which", ["seed-scalar", "per-channel", "identity"])
def test_predict_is_bit_identical_to_the_unfolded_formula(backend, which, per_channel_bundle, zoo_bundles):
    path = {
        "seed-scalar": MODELS / "seed-lstm",
        "per-channel": per_channel_bundle,
        "identity": zoo_bundles["gru-single"],
    }[which]
    p = load(path, backend=backend)
    if which == "per-channel":  # the reference reads p.spec: check the parse against what export was given
        assert p.spec.x.to_json() == {"offset": [1.0, -1.0, 0.0], "scale": [0.5, 2.0, 0.25]}
        assert p.spec.y.to_json() == {"offset": [0.0, 3.0], "scale": [2.0, 0.5]}
        np.testing.assert_array_equal(p.spec.x.scale, np.float32([0.5, 2.0, 0.25]))
    raw = np.random.default_rng(3).uniform(-20, 20, (70, p.spec.timesteps, p.spec.features)).astype(np.float32)

    def want(x):
        return serial_answer(p, x)

    for batch in (1, 2, 70):  # 70 windows exceed the small-array finiteness path
        np.testing.assert_array_equal(p.predict(raw[:batch]), want(raw[:batch]))
    strided = np.asfortranarray(raw[:5])
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(p.predict(strided), want(raw[:5]))
    np.testing.assert_array_equal(p.predict(raw[:3].astype(np.float64).tolist()), want(raw[:3]))


@pytest.mark.parametrize("batch", [1, 100])  # the list-sum path and the np.isfinite path
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_every_nonfinite_value_is_refused_on_both_check_paths(batch, bad):
    p = load(MODELS / "seed-lstm")
    x = np.full((batch, 4, 1), 3.0e38, dtype=np.float32)  # finite, and a float32 sum would overflow
    assert p.predict(x).shape == (batch, 1)  # large but finite input is accepted
    x[batch - 1, 2, 0] = bad
    with pytest.raises(InputError, match="NaN or inf"):
        p.predict(x)
    p.predict(x, allow_nonfinite=True)  # and passed through on request
    both = np.zeros((batch, 4, 1), dtype=np.float32)
    both[0, 0, 0], both[-1, -1, 0] = np.inf, -np.inf  # inf + -inf: the sum is NaN, still refused
    with pytest.raises(InputError, match="NaN or inf"):
        p.predict(both)


def test_empty_batch_and_shape_guards_on_the_fast_path():
    p = load(MODELS / "seed-lstm")
    assert p.predict(np.zeros((0, 4, 1), np.float32)).shape == (0, 1)
    with pytest.raises(InputError, match="Add a batch axis"):
        p.predict(np.zeros((4, 1), np.float32))
    with pytest.raises(InputError, match=r"got \(1, 5, 1\)"):
        p.predict(np.zeros((1, 5, 1), np.float32))


def test_cli_libraries_stay_off_the_load_predict_path():
    code = textwrap.dedent(f"""
        import sys
        from edgernn.runtime import load
        import edgernn.runtime.validate, edgernn.runtime.cli.bench
        load({str(MODELS / "seed-gru")!r}).predict([[[1.0], [2.0], [3.0], [4.0]]])
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'matplotlib', 'tensorflow', 'keras')))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("backend", default_backends())
def test_one_predictor_shared_by_threads_with_changing_batch_sizes(backend):
    """The LiteRT hot path keeps bound native methods and drops them around each resize: under the
    lock, threads alternating batch sizes must get exactly the serial answers."""
    from concurrent.futures import ThreadPoolExecutor

    p = load(MODELS / "seed-gru", backend=backend)
    rng = np.random.default_rng(5)
    inputs = [rng.uniform(-10, 10, (1 + (i % 3) * 2, 4, 1)).astype(np.float32) for i in range(60)]
    expected = [serial_answer(p, x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(p.predict, inputs))
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
