"""`load()`: open a bundle and bind it to a backend, the one call a device application makes.

from edgernn.runtime import load
p = load("models/seed-lstm")          # Bundle.open + Bundle.predictor, step models read with it
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .bundle import Bundle
from .errors import InputError
from .records import DEFAULT_VARIANT, STEP_ROLE

if TYPE_CHECKING:
    from .isolate import Limits
    from .predictor import Predictor


def load(
    path: str | os.PathLike[str],
    backend: str = "auto",
    variant: str = DEFAULT_VARIANT,
    *,
    threads: int = 1,
    verify: bool = True,
    allow_extra: bool = False,
    trusted_keys: Sequence[str | os.PathLike[str]] | None = None,
    isolate: bool | Limits = False,
) -> Predictor:
    """Load a bundle directory and bind it to a backend.

    Args:
        path: the bundle directory (holding manifest.json).
        backend: 'auto', or a name from `edgernn.runtime.backends.REGISTRY`.
        variant: which artifact variant to run ('float32', or a quantized one).
        threads: 1 (the default) runs every call on one thread, fastest at batch 1; N > 1 gives big
            batches N threads: onnxruntime's own intra-op pool, and for LiteRT and numpy batches of 128
            rows or more split over N copies of the model (runtime/parallel.py); 0 means one per core.
            benchmarks/RESULTS.md measures batch 1024 at 1 thread and at every core.
        verify: check each file's size and sha256 against the manifest (False only for debugging).
        allow_extra: ignore files in the bundle that the manifest does not list (refused by default).
        trusted_keys: PEM public keys; when given (or set in EDGERNN_TRUSTED_KEYS), the bundle must be
            signed by one of them (see edgernn.runtime.signing), checked before anything is parsed.
        isolate: first open the artifact (and its step model) and run the golden vectors in a child
            process under memory, CPU and time limits (edgernn.runtime.isolate): a crash or hang there
            is a ModelLoadError here, and this process never parses a file that killed the child. An
            `isolate.Limits` sets the child's memory, CPU and wall-clock limits.

    Raises:
        ManifestError, IntegrityError, SignatureError, ModelLoadError, UnsupportedModelError, InputError,
        BackendUnavailableError, MissingExtraError.

    Example:
        >>> p = load("models/seed-lstm")
        >>> p.predict([[[6.0], [7.0], [8.0], [9.0]]]).shape
        (1, 1)
    """
    for what, value in (("backend", backend), ("variant", variant)):
        if not isinstance(value, str):
            raise InputError(f"{what} must be a name (str), got {type(value).__name__}.")
    bundle = Bundle.open(path, verify=verify, allow_extra=allow_extra, trusted_keys=trusted_keys)
    if isolate:
        from .isolate import probe

        backend = bundle.choose_backend(variant) if backend == "auto" else backend
        bundle.check_variant(variant)
        window = bundle.artifact_for(backend, variant)
        steps = bundle.manifest.artifacts(role=STEP_ROLE, variant=variant, formats=[window.format])
        probe(bundle, [(backend, a.file) for a in (window, *steps[:1])], isolate)
    predictor = bundle.predictor(backend, variant, threads=threads)
    # Step models are read now, with the rest: a later p.stream() never reads a re-exported bundle.
    bundle.preload(bundle.manifest.artifacts(role=STEP_ROLE, variant=variant, formats=[predictor.artifact.format]))
    return predictor


__all__ = ["load"]
