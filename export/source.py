"""Re-exporting a bundle: what the source bundle knew is carried into the new one.

`edgernn export out/weather-lstm --out out/weather-q --quantize int8` reads `model.keras` from the
source bundle. The Keras file does not know its preprocessing, column names or training record, so
without this module a re-export would write the identity mapping and answer in model units. Here
the source manifest fills in every option the caller left at its default:

- preprocessing both ways (input and output mapping): a different mapping given explicitly is
  refused unless `override_preprocessing=True` (`--override-preprocessing`);
- the `training` and `evaluation` blocks, `feature_names` and `output_names`, and `derived_from`
  (the source's name, creation time and sha256 of its model.keras);
- the windows it kept (golden and held-out inputs) as `representative`, so int8 can calibrate;
- the raw-unit golden pairs (`raw_inputs`, `raw_outputs` in golden.npz): the answers the source
  gave in raw units. `validate` runs them through the new manifest's mapping, so a bundle whose
  mapping was lost fails validation instead of passing with wrong answers.

The bundle's name is always its folder's name (see `bundle_name`); the source's name goes to
`derived_from`.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.runtime.bundle import Bundle
from edgernn.runtime.errors import EdgeRNNError, ExportError
from edgernn.runtime.manifest import MANIFEST_FILE, Manifest, Spec

CARRIED_KEYS = ("training", "evaluation", "feature_names", "output_names")
RAW_GOLDEN = ("raw_inputs", "raw_outputs")
STAGING_MARK = ".tmp-"


def bundle_name(out: str | os.PathLike[str]) -> str:
    """The name a bundle written to `out` gets: the folder's name, also when `out` is a staging folder.

    Staging folders are `.NAME.tmp-PID-XXXX` (export/atomic.py); the bundle lands at `NAME`, so that is
    its name (a name like `.NAME.tmp-4596-udtrv25x` leaked into manifests and report file names).
    """
    name = Path(out).name
    if name.startswith(".") and STAGING_MARK in name:
        return bundle_name(name[1 : name.rindex(STAGING_MARK)])
    return name


def source_bundle(model: Any) -> Bundle | None:
    """The bundle a model path belongs to (a bundle folder, or its model.keras), else None."""
    if not isinstance(model, (str, os.PathLike)):
        return None
    path = Path(model)
    folder = path if path.is_dir() else path.parent
    if not (folder / MANIFEST_FILE).is_file():
        return None
    try:
        return Bundle.open(folder)
    except EdgeRNNError as exc:
        raise ExportError(
            f"{folder} holds a {MANIFEST_FILE} that cannot be read ({type(exc).__name__}: {exc}); a re-export "
            "would lose its preprocessing. Repair the bundle, or export a copy of model.keras from another folder."
        ) from None


def read_preprocessing(path: str | os.PathLike[str]) -> dict[str, Any]:
    """ExportOptions fields from a JSON file: the manifest's `preprocessing` block, or a whole manifest.json.

    The file holds `{"input": {"offset": [...], "scale": [...]}, "output": {"offset": [...], "scale": [...]}}`.

    Raises:
        ExportError: unreadable file, or keys missing.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"--preprocessing {path}: cannot read it as JSON ({exc}).") from None
    block = raw.get("preprocessing", raw) if isinstance(raw, dict) else None
    try:
        inp, out = block["input"], block["output"]
        return {
            "offset": inp["offset"],
            "scale": inp["scale"],
            "output_offset": out["offset"],
            "output_scale": out["scale"],
        }
    except (KeyError, TypeError):
        raise ExportError(
            f"--preprocessing {path}: expected {{'input': {{'offset': [...], 'scale': [...]}}, 'output': "
            "{'offset': [...], 'scale': [...]}} (the 'preprocessing' block of a manifest.json)."
        ) from None


def mapping_given(options) -> bool:
    """Whether the caller gave any preprocessing field (None means: not given)."""
    return any(getattr(options, f) is not None for f in ("scale", "offset", "output_scale", "output_offset"))


def _same(a: Spec, b: Spec) -> bool:
    return all(
        np.array_equal(np.broadcast_to(p.offset, q.offset.shape), q.offset)
        and np.array_equal(np.broadcast_to(p.scale, q.scale.shape), q.scale)
        for p, q in ((a.x, b.x), (a.y, b.y))
    )


def inherit(options, source: Bundle, model_spec):
    """`options` with everything the source bundle knew filled in (see the module docstring).

    `model_spec` turns the options into a Spec the way export does, to compare it with the source's.

    Raises:
        ExportError: the options give a mapping that differs from the source's, without
            override_preprocessing.
    """
    manifest: Manifest = source.manifest
    src = manifest.spec
    if mapping_given(options):
        if not _same(model_spec(src, options), src) and not options.override_preprocessing:
            proposed = model_spec(src, options)
            raise ExportError(
                f"{source.path} maps x_model = (x_raw - {src.x.to_json()['offset']}) * {src.x.to_json()['scale']}"
                f" (output offset {src.y.to_json()['offset']}, scale {src.y.to_json()['scale']}); the options give "
                f"offset {proposed.x.to_json()['offset']}, scale {proposed.x.to_json()['scale']} (output offset "
                f"{proposed.y.to_json()['offset']}, scale {proposed.y.to_json()['scale']}). The model was trained "
                "on the source's mapping: leave --scale/--offset out to keep it, or pass --override-preprocessing."
            )
        mapping = {}
    else:
        mapping = {
            "offset": list(src.x.to_json()["offset"]),
            "scale": list(src.x.to_json()["scale"]),
            "output_offset": list(src.y.to_json()["offset"]),
            "output_scale": list(src.y.to_json()["scale"]),
        }
    carried = {k: manifest.extra[k] for k in CARRIED_KEYS if k in manifest.extra}
    derived = {"name": manifest.name, "created": manifest.extra.get("created")}
    if manifest.source is not None:
        derived["model_keras_sha256"] = manifest.source.sha256
    raw = source_raw_golden(source) if not mapping_given(options) else None
    extra = {**carried, "derived_from": derived, **options.extra}
    windows = {} if options.representative is not None else {"representative": source_windows(source)}
    return replace(options, **mapping, **windows, extra=extra, raw_golden=raw)


def source_windows(source: Bundle) -> np.ndarray:
    """The windows the source kept (model units): its golden inputs, the first of them its training
    windows, and the held-out ones. They calibrate a re-export's int8 variants and seed its golden."""
    golden = source.golden()
    parts = [golden["inputs"], *([golden["holdout_inputs"]] if "holdout_inputs" in golden else [])]
    return np.concatenate(parts).astype(np.float32)


def source_raw_golden(source: Bundle) -> dict[str, np.ndarray]:
    """The source's raw-unit golden pair: stored, or its model-unit pair through its own mapping."""
    golden = source.golden()
    if all(k in golden for k in RAW_GOLDEN):
        return {k: golden[k] for k in RAW_GOLDEN}
    return raw_golden(source.manifest.spec, golden["inputs"], golden["outputs"])


def raw_golden(spec: Spec, inputs: np.ndarray, outputs: np.ndarray) -> dict[str, np.ndarray]:
    """The golden pair in raw units: what `predict` on raw windows must answer."""
    return {
        "raw_inputs": np.asarray(spec.x.to_raw(inputs), dtype=spec.input_dtype),  # token ids stay int32
        "raw_outputs": np.asarray(spec.y.to_raw(outputs), dtype=np.float32),
    }


def resolve(model: Any, options, model_spec):
    """The options an export of `model` uses: `inherit`ed from its source bundle when it has one.

    `model_spec(shape, options) -> Spec` is export.bundle's (passed in: bundle.py imports this module).
    """
    source = source_bundle(model)
    return options if source is None else inherit(options, source, model_spec)
