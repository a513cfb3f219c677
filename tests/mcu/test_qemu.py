"""The shipped bundles' C on an emulated Cortex-M4 (qemu mps2-an386): `make mcu` runs these.

Each model is exported with the C format (float32 and int8 weights) from models/*/model.keras into a
temp folder, cross-compiled with arm-none-eabi-gcc at -Os, and its model_test.c must print PASS and
exit 0 under qemu with semihosting.
"""

from __future__ import annotations

import os

import pytest

from edgernn.export.formats.c import convert, mcu

from conftest import MODELS

SHIPPED = ("seed-simplernn", "seed-lstm", "seed-gru", "sunspots-gru")
pytestmark = [
    pytest.mark.skipif(not os.environ.get("EDGERNN_MCU"), reason="the Cortex-M4 runs are `make mcu` (EDGERNN_MCU=1)"),
    pytest.mark.skipif(bool(mcu.missing_tools(qemu=True)), reason=mcu.missing_tools(qemu=True) or "ok"),
]


@pytest.fixture(scope="module")
def c_shipped(tmp_path_factory):
    from edgernn.export import export_bundle
    from edgernn.runtime.manifest import Manifest

    root, out = tmp_path_factory.mktemp("mcu"), {}
    for name in SHIPPED:
        spec = Manifest.read(MODELS / name).spec
        out[name] = export_bundle(
            MODELS / name / "model.keras",
            root / name,
            formats=("c",),
            quantize="dynamic",
            scale=spec.x.scale.tolist(),
            offset=spec.x.offset.tolist(),
            output_scale=spec.y.scale.tolist(),
            output_offset=spec.y.offset.tolist(),
        ).path
    return out


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("stem", ["model", "model.dynamic"])
def test_golden_vectors_pass_on_the_cortex_m4(c_shipped, name, stem):
    header, test = convert.names(c_shipped[name] / f"{stem}.c")
    line = mcu.run_on_qemu(c_shipped[name], f"{stem}.c", header, test)
    assert line.endswith("PASS") and " 0 outputs beyond tolerance" in line


def test_a_mismatch_fails_on_the_cortex_m4(c_shipped, tmp_path):
    import shutil

    for f in ("model.c", "model.h", "model_test.c"):
        shutil.copy(c_shipped["seed-gru"] / f, tmp_path / f)
    decl = "static const float tolerance[SEED_GRU_OUT] = {"
    text = (tmp_path / "model_test.c").read_text().replace(decl, decl + "0.0f * ", 1)
    (tmp_path / "model_test.c").write_text(text)
    with pytest.raises(Exception, match="FAIL"):
        mcu.run_on_qemu(tmp_path, "model.c", "model.h", "model_test.c")


def test_the_manifest_records_the_cortex_m4_footprint(c_shipped):
    from edgernn.runtime.manifest import Manifest

    entry = Manifest.read(c_shipped["seed-lstm"]).artifacts(formats=("c",), variant="float32")[0]
    fp = entry.extra["mcu"]
    assert fp["flash_bytes"] == fp["text_bytes"] + fp["rodata_bytes"] > 0
    assert fp["ram_bytes"] >= fp["stack_predict_bytes"] > 0
