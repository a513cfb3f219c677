"""The seed comparison report: the improved recipe beats the seed recipe; the plots are real PNGs."""

import struct
import zlib

import numpy as np
import pytest

from edgernn.runtime.cli import main
from edgernn.runtime.errors import InputError
from edgernn.train import CELLS, PROBES

from conftest import MODELS

SEED_BUNDLES = {"simple_rnn": "seed-simplernn", "lstm": "seed-lstm", "gru": "seed-gru"}


@pytest.fixture(scope="session")
def seed_results():
    """The improved recipe for every cell, and the seed recipe for one (the shipped seed bundles hold the others)."""
    from edgernn.train.seed_compare import IMPROVED, SEED, compare, run_one

    return [run_one("lstm", SEED)] + compare(recipes=(IMPROVED,), progress=lambda _: None)


def shipped_seed_probes(cell: str) -> dict[str, float]:
    """Probe predictions of the shipped seed bundle (trained by `make models` with the seed recipe)."""
    from edgernn.runtime import load

    p = load(MODELS / SEED_BUNDLES[cell])
    return {
        name: float(p.predict(np.asarray(w, dtype=np.float32).reshape(1, -1, 1))[0, 0])
        for name, (w, _) in PROBES.items()
    }


@pytest.fixture(scope="session")
def report_dir(seed_results, tmp_path_factory):
    from edgernn.train.report import write_report

    out = tmp_path_factory.mktemp("report")
    write_report(out, bundles=[MODELS / "sunspots-gru"], results=seed_results, progress=lambda _: None)
    return out


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, after checking the signature and the chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("cell", CELLS)
def test_improved_recipe_beats_the_seed_recipe_on_both_probes(seed_results, cell):
    improved = next(r for r in seed_results if r.cell == cell and r.recipe == "improved")
    seed = shipped_seed_probes(cell)
    for probe, (_, ideal) in PROBES.items():
        assert abs(improved.probes[probe] - ideal) < abs(seed[probe] - ideal), (cell, probe, seed, improved.probes)
    assert improved.windows == 256 and improved.val_mae < 0.5


def test_the_comparisons_seed_recipe_reproduces_the_shipped_seed_bundle(seed_results):
    seed = next(r for r in seed_results if r.recipe == "seed")
    assert (seed.cell, seed.windows, seed.epochs_run, len(seed.history["val_loss"])) == ("lstm", 6, 100, 100)
    for probe, value in shipped_seed_probes("lstm").items():
        assert seed.probes[probe] == pytest.approx(value, abs=1e-4)
    improved = next(r for r in seed_results if r.cell == "lstm" and r.recipe == "improved")
    assert improved.val_mae < seed.val_mae


@pytest.mark.parametrize(
    "name", ["seed_loss.png", "seed_predictions.png", "sunspots-gru_loss.png", "sunspots-gru_test.png"]
)
def test_plots_are_valid_non_empty_pngs(report_dir, name):
    import matplotlib.image

    width, height = png_size(report_dir / name)
    assert width > 300 and height > 200
    pixels = matplotlib.image.imread(report_dir / name)
    assert pixels.shape[:2] == (height, width)
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 10, "a blank image"


def test_report_text_lists_every_cell_recipe_and_probe(report_dir, seed_results):
    text = (report_dir / "report.md").read_text()
    for r in seed_results:
        assert f"{r.cell:<10}  {r.recipe}" in text
    assert "pred 6 7 8 9" in text and "pred -1 0 1 2" in text and "MAE SUNACTIVITY" in text


def test_report_cli_plots_a_bundle_without_training(tmp_path, capsys):
    assert main(["report", str(MODELS / "sunspots-gru"), "--no-seed", "--out", str(tmp_path)]) == 0
    assert png_size(tmp_path / "sunspots-gru_test.png")[0] > 300
    assert not (tmp_path / "seed_loss.png").exists()


def test_report_refuses_a_bundle_without_training_history(tmp_path):
    from edgernn.train.report import write_report

    with pytest.raises(InputError, match="no training history"):
        write_report(tmp_path, bundles=[MODELS / "seed-gru"], seed_comparison=False)
