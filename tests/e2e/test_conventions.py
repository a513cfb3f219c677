"""CLI conventions: --version, help with defaults and examples, exit codes per class, pipes, early checks."""

import subprocess
import sys

import pytest

from edgernn.runtime.cli import main

from conftest import MODELS, ROOT
from helpers import copy_bundle

EDGERNN = [sys.executable, "-m", "edgernn.runtime.cli"]


def run(*argv, **kw):
    return subprocess.run([*EDGERNN, *argv], capture_output=True, text=True, timeout=120, cwd=ROOT, **kw)


def test_version_and_predict_help_show_defaults_and_an_example(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("edgernn ")
    assert main(["predict", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # help wraps at the terminal's width
    assert "(default: auto)" in out and "(default: float32)" in out and "examples:" in out
    assert "edgernn predict models/" in out and "--allow-nonfinite" in out and "exit codes:" in out


@pytest.mark.parametrize("command", ["train", "report", "export", "validate", "bench", "info", "demo"])
def test_every_command_help_has_examples(command, capsys):
    assert main([command, "--help"]) == 0
    assert "examples:" in capsys.readouterr().out


def test_exit_codes_per_class(tmp_path, capsys):
    assert main(["validate", str(MODELS / "seed-gru")]) == 0  # 0 ok
    assert main(["predict", str(MODELS / "seed-lstm"), "6", "7", "8"]) == 2  # 2 usage (values do not fit)
    assert main(["predict", "--bogus", "x"]) == 2  # 2 usage (argparse)
    assert main(["validate", str(tmp_path)]) == 3  # 3 unreadable
    tampered = copy_bundle(MODELS / "seed-gru", tmp_path / "t")
    (tampered / "model.npz").write_bytes(b"not the file the manifest hashed")
    assert (
        main(["validate", str(tampered)]) == 3
        and main(["predict", str(tampered), "--backend", "numpy", "1", "2", "3", "4"]) == 3
    )
    capsys.readouterr()


def test_exit_code_1_when_a_check_fails(tmp_path, capsys):
    from helpers import edit_manifest

    bundle = copy_bundle(MODELS / "seed-gru", tmp_path / "b")
    edit_manifest(bundle, lambda m: [a.update(tolerance=1e-12) for a in m["artifacts"]])
    assert main(["validate", str(bundle)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_exit_code_4_for_a_missing_extra(tmp_path):
    wrapper = (
        "import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None\n"
        "from edgernn.runtime.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = ["train", "--cell", "gru", "--epochs", "1", "--out", str(tmp_path / "o")]
    done = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 4 and "MissingExtraError" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [["info"], ["info", "--json"]])
def test_a_closed_pipe_ends_without_a_traceback(argv):
    """`edgernn info x | head -1`: here the reader is gone before the first write, so every write fails."""
    cmd = [*EDGERNN, argv[0], str(MODELS / "seed-lstm"), *argv[1:]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_bad_arguments_are_refused_before_tensorflow_is_imported(tmp_path):
    wrapper = (
        "import sys; from edgernn.runtime.cli import main; code = main(sys.argv[1:]);"
        " print('TF', 'tensorflow' in sys.modules); sys.exit(code)"
    )
    for argv in (["--formats", "tflite,bogus"], ["--quantize", "int4"]):
        done = subprocess.run(
            [sys.executable, "-c", wrapper, "export", str(MODELS / "seed-gru"), "--out", str(tmp_path / "o"), *argv],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and argv[1].split(",")[-1] in done.stderr, done.stderr
        assert "expected a comma list of" in done.stderr and "TF False" in done.stdout


def test_validate_an_unknown_variant_names_the_bundles_variants(capsys):
    assert main(["validate", str(MODELS / "seed-lstm"), "--variant", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "no artifact of variant 'bogus'" in err and "install a backend" not in err


def test_predict_nonfinite_names_the_flag_and_the_flag_runs_it(capsys):
    assert main(["predict", str(MODELS / "seed-lstm"), "6", "nan", "8", "9"]) == 2
    assert "pass --allow-nonfinite" in capsys.readouterr().err
    assert main(["predict", str(MODELS / "seed-lstm"), "--allow-nonfinite", "6", "nan", "8", "9"]) == 0
    assert capsys.readouterr().out.strip() == "nan"


def test_litert_delegate_noise_is_silenced_by_default_and_shown_with_v():
    quiet = run("validate", str(MODELS / "seed-lstm"), "--backend", "litert")
    assert quiet.returncode == 0 and "XNNPACK" not in quiet.stderr
    loud = run("-v", "validate", str(MODELS / "seed-lstm"), "--backend", "litert")
    assert loud.returncode == 0 and "XNNPACK" in loud.stderr


def test_quiet_and_verbose_are_accepted_after_the_command(capsys):
    assert main(["info", str(MODELS / "seed-gru"), "-q"]) == 0
    assert main(["info", str(MODELS / "seed-gru"), "-v"]) == 0


def test_ctrl_c_ends_with_130_and_no_traceback():
    import signal

    cmd = [*EDGERNN, "bench", str(MODELS / "seed-lstm"), "--no-baselines", "--cold-runs", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = proc.stderr.readline()  # the first progress line: the command is running
    proc.send_signal(signal.SIGINT)
    err = first + proc.stderr.read()
    assert proc.wait(timeout=60) == 130, err
    assert "edgernn bench: interrupted" in err and "Traceback" not in err
