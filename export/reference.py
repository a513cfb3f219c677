"""The Keras reference of a bundle: model.keras run on new windows (validate --fresh) and timed (bench).

The runtime never imports TensorFlow; the CLI passes these functions in when TF is installed:
`validate(..., reference=keras_reference(bundle))`, `bench(..., baselines=keras_baselines)`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgernn.runtime import optional
from edgernn.runtime.bundle import Bundle
from edgernn.runtime.cli.bench import THROUGHPUT_BATCHES, throughput
from edgernn.runtime.cli.timing import per_call_us
from edgernn.runtime.errors import ManifestError

from .heads import keras_inputs, keras_outputs


def keras_model(bundle: Bundle):
    """model.keras of the bundle, its bytes checked against the manifest, loaded with safe_mode=True.

    Raises:
        ManifestError: the bundle ships no model.keras; IntegrityError: it differs from the manifest.
    """
    source = bundle.manifest.source
    missing = ManifestError(
        f"{bundle.path}: the Keras reference needs the bundle's model.keras, which is not there; "
        "validate with the golden vectors only (drop --fresh)."
    )
    if source is None:
        raise missing
    try:
        data = bundle.read(source)  # hashed: Keras gets exactly these bytes, never the path (a swap after the hash)
    except ManifestError as exc:
        raise missing if "is missing" in str(exc) else exc from None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's start-up chatter would bury the table
    keras = optional.require("keras", "the Keras reference (model.keras)")
    with tempfile.TemporaryDirectory(prefix="edgernn-keras-") as private:  # mode 0700: ours alone
        copy = Path(private) / "model.keras"
        copy.write_bytes(data)
        return keras.models.load_model(copy, safe_mode=True, compile=False)


def keras_reference(bundle: Bundle) -> Callable[[np.ndarray], np.ndarray]:
    """model-unit windows -> model.keras's outputs (what `validate --fresh` compares every artifact with)."""
    model = keras_model(bundle)
    return lambda windows: keras_outputs(model, windows)  # several outputs: packed, as the bundle's golden


def keras_baselines(bundle: Bundle, max_seconds: float = 2.0) -> list[dict[str, Any]]:
    """Keras `model.predict` and the eager call `model(x)` on model.keras, batch 1 and throughput.

    Empty when model.keras is missing. Inputs are in model units (Keras sees those).
    """
    try:
        model = keras_model(bundle)
    except ManifestError:  # no model.keras shipped: nothing to time
        return []
    source = bundle.manifest.source
    spec = bundle.manifest.spec
    rng = np.random.default_rng(0)
    x1 = rng.uniform(-1, 1, (1, *spec.window_tail)).astype(np.float32)  # several inputs: packed
    calls = {
        "keras predict": lambda x: model.predict(keras_inputs(model, x), verbose=0),
        "keras eager": lambda x: model(keras_inputs(model, x), training=False),
    }
    rows = []
    for name, fn in calls.items():
        lat = per_call_us(lambda: fn(x1), warmup=3, repeat=200, max_seconds=max_seconds)
        row = {
            "file": source.file,
            "format": "keras",
            "variant": "float32",
            "graph_form": "",
            "backend": name,
            "bytes": source.bytes,
            "load_ms": None,
            "cold_start_ms": None,
            "p50_us": lat["p50"],
            "p90_us": lat["p90"],
            "p99_us": lat["p99"],
            "samples": lat["n"],
        }
        for batch in THROUGHPUT_BATCHES:
            xb = rng.uniform(-1, 1, (batch, *spec.window_tail)).astype(np.float32)
            row[f"throughput_b{batch}"] = throughput(fn, xb, max_seconds=max_seconds)
        rows.append(row)
    return rows
