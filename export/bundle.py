"""Write a bundle: artifacts proven against Keras, golden vectors, model.keras, manifest.json.

Everything is written into a temp folder beside the target and swapped in at the end, so a failed
or killed export leaves any earlier bundle at that path untouched.

    result = export_bundle(model, "out/my-gru", ExportOptions(scale=0.1, representative=x))  # .path .manifest .refused
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.runtime import checks, signing
from edgernn.runtime.errors import ExportError
from edgernn.runtime.frozen import replace
from edgernn.runtime.manifest import MANIFEST_FILE, Affine, Manifest, ModelBlock, Spec

from .atomic import staging_dir
from .compute import compute_block
from .feeds import check_inputs_options, packed_map
from .fold import Folding, fold
from .formats import DEFAULT_FORMATS, Target, file_entry
from .formats.tflite.isolated import converter_pool
from .heads import check_free_length, check_heads_options
from .keras_io import load_keras, save_keras
from .model_info import FREE_PROOF_STEPS, ModelInfo, clone_with, inspect_model
from .padding import pad
from .provenance import provenance
from .source import bundle_name, raw_golden, resolve
from .stream_variants import write_step_variants
from .streaming import check_streamable, write_step_models
from .tokens import check_token_options, random_ids
from .variants import GOLDEN_HOLDOUT, Windows, parse_variants, quantization_block, split_windows, write_variants
from .verify import keras_cases
from .windows import write_window_models

GOLDEN_FILE = "golden.npz"
KERAS_FILE = "model.keras"
GOLDEN_RANDOM = 8


@dataclass(frozen=True)
class ExportOptions:
    """How to export a model (every field has a default: `ExportOptions()` is the plain float32 bundle).

    Attributes:
        formats: artifact formats, from `edgernn.export.FORMAT_NAMES` (default tflite, onnx, numpy; add "c").
        scale, offset: input preprocessing, x_model = (x_raw - offset) * scale (scalar or per feature; several
            inputs: also {input name: scalar or per feature}, an input left out unmapped).
        output_scale, output_offset: output mapping (default: the input's, when scalar).
        representative: windows in model units (e.g. the training windows) used in the golden vectors.
        name: the bundle's name; it is always the output folder's name (a different one is refused).
        extra: more top-level manifest keys (e.g. training metrics).
        streaming: also write step models (state as explicit input/output) per format.
        quantize: quantized variants to add ('dynamic', 'float16', 'int8', or a comma list); a variant
            that fails is left out and listed in manifest.quantization.failed.
        calibration: windows (n, timesteps, features) in RAW units for calibration; default `representative`.
        max_error: refuse a variant whose max abs error (model units) is beyond this; 'N%' means N% of
            the Keras output range.
        override_preprocessing: re-exporting a bundle, accept a mapping that differs from its source's.
        raw_golden: raw-unit golden pair ('raw_inputs', 'raw_outputs') to keep (a re-export carries its
            source's); default: the model-unit golden pair through this export's mapping.
        sign_key: a PEM private key: sign the bundle (edgernn.runtime.signing) before it is swapped in.
        fold: fold the unit maps into the first and last layers' weights (export/fold.py), so the
            artifacts take and return raw units; False keeps them in Python (as bundles before).
    """

    formats: Sequence[str] = DEFAULT_FORMATS
    scale: float | Sequence[float] | None = None  # None: 1.0, or a re-exported bundle's own mapping
    offset: float | Sequence[float] | None = None  # None: 0.0, or a re-exported bundle's own mapping
    output_scale: float | Sequence[float] | None = None
    output_offset: float | Sequence[float] | None = None
    representative: np.ndarray | None = None
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    streaming: bool = False
    quantize: str | Sequence[str] = ()
    calibration: np.ndarray | None = None
    max_error: float | str | None = None
    override_preprocessing: bool = False
    raw_golden: Mapping[str, np.ndarray] | None = None
    sign_key: str | os.PathLike[str] | None = None
    fold: bool = True
    timesteps: int | None = None  # fix a free-T model's sequence length (the unrolled forms then apply)


@dataclass(frozen=True)
class ExportResult:
    """What export_bundle wrote: the bundle folder, the manifest in it, and the variants left out."""

    path: Path
    manifest: Manifest
    refused: tuple[Mapping[str, str], ...] = ()

    def __fspath__(self) -> str:  # load(export_bundle(...)) works as with a path
        return str(self.path)


def _channels(value: float | Sequence[float], size: int, what: str) -> list[float]:
    values = [float(value)] if np.isscalar(value) else [float(v) for v in value]
    if len(values) not in (1, size):
        raise ExportError(f"{what} has {len(values)} values; expected 1 or {size}.")
    problem = checks.affine_problem(values, "scale" if what.endswith("scale") else "offset")
    if problem:
        raise ExportError(f"{what} is {values}; {problem}.")
    return values


def model_spec(info: ModelInfo, options: ExportOptions) -> Spec:
    """Shapes and preprocessing; outputs map back with the input's scale/offset when those are scalars."""
    scale = 1.0 if options.scale is None else options.scale
    offset = 0.0 if options.offset is None else options.offset
    out_scale, out_offset = options.output_scale, options.output_offset
    if info.heads:  # several outputs come back in model units (export/heads.py refuses an output map)
        out_scale, out_offset = 1.0, 0.0
    out_scale = (scale if np.isscalar(scale) else 1.0) if out_scale is None else out_scale
    out_offset = (offset if np.isscalar(offset) else 0.0) if out_offset is None else out_offset
    if info.inputs:  # several inputs: a map per input ({name: value or per feature}) laid out packed
        scale, offset = packed_map(scale, info.inputs, "scale"), packed_map(offset, info.inputs, "offset")
    x = Affine.of(_channels(offset, info.features or 1, "offset"), _channels(scale, info.features or 1, "scale"))
    y = Affine.of(
        _channels(out_offset, info.outputs, "output offset"), _channels(out_scale, info.outputs, "output scale")
    )
    example = None if info.timesteps else info.window_steps
    fields = (info.timesteps, info.features, info.outputs, info.sequence_output, x, y)
    named = dict(example_timesteps=example, vocabulary=info.vocabulary, heads=info.heads, inputs=info.inputs)
    return Spec(*fields, **named, output_timesteps=info.output_timesteps)


def golden_inputs(info: ModelInfo, representative: np.ndarray | None, seed: int) -> np.ndarray:
    """Up to 8 representative windows (model units) and 8 random ones."""
    rng = np.random.default_rng(seed)
    dtype = np.int32 if info.vocabulary else np.float32  # token ids, or float windows
    parts = []
    if representative is not None:
        parts.append(np.asarray(representative, dtype=dtype)[:8])
    if info.vocabulary:
        parts.append(random_ids(rng, (GOLDEN_RANDOM, info.window_steps), info.vocabulary))
    elif info.inputs:  # several inputs: packed side by side (runtime/inputs.py)
        parts.append(rng.uniform(-1, 1, (GOLDEN_RANDOM, info.features)).astype(np.float32))
    else:
        parts.append(rng.uniform(-1, 1, (GOLDEN_RANDOM, info.window_steps, info.features)).astype(np.float32))
    if info.mask_value is not None:  # validate re-checks the masked steps too
        parts[-1] = pad(parts[-1], info.mask_value)
    return np.concatenate(parts).astype(dtype)


def _calibration_windows(model, info: ModelInfo, spec: Spec, options: ExportOptions) -> Windows:
    if options.calibration is not None:
        pool, source = spec.x.to_model(np.asarray(options.calibration, dtype=np.float32)), "calibration (raw units)"
    else:
        pool, source = options.representative, "representative"
    return split_windows(model, info, pool, source if pool is not None else "none", options.seed + 2)


def export_bundle(
    model, out: str | os.PathLike[str], options: ExportOptions | None = None, **keywords: Any
) -> ExportResult:
    """Export a Keras model (or a .keras path) to a bundle directory, atomically.

    Args:
        model: a Keras model, or the path of a .keras file (loaded with safe_mode=True).
        out: the bundle directory to create or replace.
        options: an ExportOptions; or its fields as keywords (`export_bundle(m, out, scale=0.1)`).

    Returns:
        ExportResult(path, manifest, refused): the manifest as written, the variants left out.

    Raises:
        ExportError (or its subclass for unsupported layers): nothing is written then.

    Example:
        >>> result = export_bundle(model, "out/my-gru", ExportOptions(scale=0.1, representative=x))
        >>> load(result.path).predict(x_raw[:1])
    """
    if options is not None and keywords:
        raise ExportError(f"pass either options or keywords, not both (got options and {sorted(keywords)}).")
    options = resolve(model, options or ExportOptions(**keywords), model_spec)  # a bundle's model: keep what it knew
    name = bundle_name(out)
    if options.name not in (None, name):
        raise ExportError(
            f"name={options.name!r}: a bundle is named after its folder; write it to --out .../{options.name}."
        )
    model = load_keras(model) if isinstance(model, (str, os.PathLike)) else model
    info = inspect_model(model)
    check_token_options(info, options)
    check_heads_options(info, options)
    if info.stateful or options.timesteps or info.vocabulary:  # stateless, T fixed for unrolling, int32 ids
        model, info = _fixed(model, info, options.timesteps)
    if info.timesteps is None and not info.vocabulary and not info.inputs:
        check_free_length(model, info.features)  # runs at T = 1 and 7, one output step per input step
    if options.streaming:
        check_streamable(model)  # before any conversion: say at once why it cannot stream
    out = Path(out)
    spec = model_spec(info, options)
    check_inputs_options(spec, options)
    inputs = golden_inputs(info, options.representative, options.seed)
    lengths = () if info.timesteps else FREE_PROOF_STEPS
    cases = keras_cases(
        model, inputs, seed=options.seed + 1, lengths=lengths, mask_value=info.mask_value, vocabulary=info.vocabulary
    )
    folding = fold(model, spec, inputs) if options.fold else Folding(model, False, "exported with fold=False")
    spec = replace(spec, folded=folding.folded, fold_note=folding.reason)
    source = folding.model  # what every artifact is converted from: raw units when folded
    variants = parse_variants(options.quantize)
    if variants and not info.timesteps:
        raise ExportError("quantized variants are calibrated on fixed-length windows; export with --timesteps T.")
    windows = _calibration_windows(model, info, spec, options) if variants else None
    target = Target(name, spec, cases[0].inputs, cases[0].outputs)
    with writing(out), staging_dir(out) as tmp, converter_pool():  # one TF import for every isolated conversion
        entries, refusals = write_window_models((source, model), tmp, options.formats, info, spec, cases, target)
        streaming, written = None, [e.format for e in entries]
        if options.streaming:
            streaming, steps, step_refusals = write_step_models(model, tmp, info, spec, written, options.seed, source)
            refusals += step_refusals
            entries += steps
        golden = {"inputs": cases[0].inputs, "outputs": cases[0].outputs}
        golden.update(options.raw_golden or raw_golden(spec, cases[0].inputs, cases[0].outputs))
        quant = None
        if variants:
            report = write_variants(
                source, tmp, info, spec, variants, entries, windows, options.max_error, target, unfolded=model
            )
            steps, failed = write_step_variants(model, source, tmp, info, spec, streaming, variants, windows, options)
            entries += report.entries + steps
            quant = quantization_block(variants, windows, [*report.failures, *failed])
            golden.update(
                holdout_inputs=windows.holdout.inputs[:GOLDEN_HOLDOUT],
                holdout_outputs=windows.holdout.outputs[:GOLDEN_HOLDOUT],
            )
        np.savez(tmp / GOLDEN_FILE, **golden)
        save_keras(model, tmp / KERAS_FILE)  # the same bytes for the same model
        draft = Manifest(
            name=name,
            spec=spec,
            entries=tuple(entries),
            golden=file_entry(tmp / GOLDEN_FILE, count=int(len(inputs)), units="model"),
            source=file_entry(tmp / KERAS_FILE, format="keras"),
            model=_model_block(info),
            streaming=streaming,
            quantization=quant,
            refusals=tuple(refusals),
            extra={**provenance(options.extra), "compute": compute_block(model, info)},
        )
        manifest = _write_manifest(draft, tmp)
        if options.sign_key is not None:  # in the staging folder: the bundle never appears unsigned
            signing.sign(tmp, options.sign_key)
    return ExportResult(out, manifest, quant.failed if quant else ())


def _fixed(model, info: ModelInfo, timesteps: int | None) -> tuple[Any, ModelInfo]:
    """A stateless clone, its sequence length fixed at `timesteps` when given (ExportError for a fixed model)."""
    if timesteps and info.timesteps not in (None, timesteps):
        raise ExportError(f"--timesteps {timesteps}: the model's input already has {info.timesteps} timesteps.")
    clone = clone_with(model, timesteps=timesteps, tokens=bool(info.vocabulary))
    return clone, inspect_model(clone)


@contextlib.contextmanager
def writing(out: Path):
    """OSError while the bundle is written (a read-only or full disk, --out under a file) -> ExportError."""
    try:
        yield
    except OSError as exc:
        raise ExportError(
            f"cannot write the bundle to {out}: {exc.strerror or exc} ({type(exc).__name__}); nothing was written "
            "and a bundle already there is unchanged. Choose a writable --out with free space."
        ) from None


def _write_manifest(manifest: Manifest, folder: Path) -> Manifest:
    """Write manifest.json; returns the Manifest parsed back from that text (the runtime must read what is written)."""
    text = manifest.dumps()
    parsed = Manifest.parse(json.loads(text), MANIFEST_FILE)
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
    return parsed


def _model_block(info: ModelInfo) -> ModelBlock:
    return ModelBlock(
        cell=info.cell,
        cells=info.cells,
        bidirectional=info.bidirectional,
        trainable_params=info.trainable_params,
        layers=info.layers,
    )


__all__ = ["ExportOptions", "ExportResult", "export_bundle", "GOLDEN_FILE", "KERAS_FILE"]
