"""edgernn.runtime: load a bundle and run it with numpy and one runtime. Never imports TF or Keras.

from edgernn.runtime import load
p = load("models/seed-lstm")
p.predict([[[6.0], [7.0], [8.0], [9.0]]])

`import edgernn.runtime` imports nothing: every name below is imported on first use (PEP 562), so
an application pays only for what it touches (cold start, benchmarks/cold_start.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [  # load is defined here; the others are imported on first use (__getattr__)
    "load",
    "Bundle",
    "Manifest",
    "ArtifactEntry",
    "Predictor",
    "Stream",
    "BackendUnavailableError",
    "EdgeRNNError",
    "ExportError",
    "InputError",
    "IntegrityError",
    "ManifestError",
    "MissingExtraError",
    "ModelLoadError",
    "ModelRunError",
    "RunTimeoutError",
    "SignatureError",
    "UnsupportedModelError",
]
# public name -> the submodule that defines it (the names after Stream are the error types)
_LAZY = {
    **dict(zip(__all__[1:], ("bundle", "manifest", "manifest", "predictor", "stream"))),
    **dict.fromkeys(__all__[6:], "errors"),
}

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from .bundle import Bundle
    from .errors import (
        BackendUnavailableError,
        EdgeRNNError,
        ExportError,
        InputError,
        IntegrityError,
        ManifestError,
        MissingExtraError,
        ModelLoadError,
        ModelRunError,
        RunTimeoutError,
        SignatureError,
        UnsupportedModelError,
    )
    from .isolate import Limits
    from .manifest import ArtifactEntry, Manifest
    from .predictor import Predictor
    from .stream import Stream

__version__ = "0.1.0"


def load(
    path: str | os.PathLike[str],
    backend: str = "auto",
    variant: str = "float32",  # records.DEFAULT_VARIANT (not imported here)
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
    with _no_gc():  # the collector paused over the load (see _no_gc)
        from .bundle import Bundle
        from .errors import InputError
        from .records import STEP_ROLE

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
        steps = bundle.manifest.artifacts(role=STEP_ROLE, variant=variant, formats=[predictor.artifact.format])
        bundle.preload(steps)
        return predictor


def __getattr__(name: str):
    """Import the submodule defining `name` on first use, and keep the name here from then on."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


class _no_gc:  # noqa: N801 - used as a function: `with _no_gc():`
    """The garbage collector paused over `load`, then resumed as it was.

    Measured with gc.callbacks in the installed wheel: `import numpy` leaves a generation-1 collection
    due, and the ~2,500 objects edgernn's import and load allocate set it off, 1.2-1.8 ms in a ~10 ms
    cold start (plus two young collections); the bare interpreter allocates too little to reach it.
    After the process's first load, the objects made so far (numpy's, the runtime's, edgernn's modules:
    objects that live as long as the process) go to the oldest generation without a collection
    (gc.freeze, then gc.unfreeze), so no young collection is due when the first answer is asked for.
    Once per process only, so an application that loads again and again keeps the collector's usual
    rhythm; never when the application froze objects itself (gc.get_freeze_count()). The collector is
    never left off: it is enabled again when it was enabled before.
    """

    promoted = False  # the first load's objects were handed to the oldest generation

    def __enter__(self) -> None:
        import gc

        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        import gc

        if self.enabled:
            if not _no_gc.promoted and not gc.get_freeze_count():  # nothing the application froze is unfrozen
                _no_gc.promoted = True
                gc.freeze()
                gc.unfreeze()  # every tracked object now in the oldest generation, none collected
            gc.enable()
