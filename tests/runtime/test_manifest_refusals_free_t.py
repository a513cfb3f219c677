"""The manifest's issue-13 fields: `refusals` per format and `input.timesteps: null` (with
`example_timesteps`); both parse, round-trip, are refused when malformed, and old bundles lack them."""

from __future__ import annotations

import pytest

from edgernn.runtime import ManifestError
from edgernn.runtime.manifest import Manifest

from conftest import MODELS
from helpers import manifest_json

SEED = MODELS / "seed-gru"


def test_shipped_bundle_has_no_refusals_and_a_fixed_t():
    manifest = Manifest.read(SEED)
    assert manifest.refusals == () and manifest.spec.timesteps == 4 and "refusals" not in manifest.to_json()


def test_refusals_and_free_t_round_trip():
    raw = manifest_json(SEED)
    raw["refusals"] = [{"format": "c", "role": "model", "reason": "no kernel for conv1d"}]
    raw["input"].update(timesteps=None, example_timesteps=8)
    manifest = Manifest.parse(raw)
    assert manifest.refusals[0].format == "c" and manifest.spec.timesteps is None
    assert manifest.spec.window_steps == 8
    again = manifest.to_json()
    assert again["refusals"] == raw["refusals"] and again["input"]["timesteps"] is None
    assert Manifest.parse(again).to_json() == again


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda m: m.update(refusals="c"), "'refusals' is 'c'"),
        (lambda m: m["input"].update(timesteps=None), "example_timesteps"),
        (lambda m: m["input"].update(timesteps=0), "input.timesteps"),
    ],
)
def test_malformed_new_fields_are_manifest_errors(change, expected):
    raw = manifest_json(SEED)
    Manifest.parse(raw)  # neighbour
    change(raw)
    with pytest.raises(ManifestError, match=expected):
        Manifest.parse(raw)
