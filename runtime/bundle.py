"""The one bundle reader: the manifest parsed once, each file read once, hashed, and those bytes parsed.

    bundle = Bundle.open("models/seed-lstm")
    p = bundle.predictor("auto", "float32")       # a Predictor (window model)
    steps = bundle.step_model("litert")           # a StepModel (streaming)

`load()`, validate, bench, streaming and export's proof all open artifacts through here, so a file
swapped between the check and the parse cannot slip through, and every opener checks the same things.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import backends, checks, signing
from .errors import (
    BackendUnavailableError,
    InputError,
    ManifestError,
    SignatureError,
    UnsupportedModelError,
)
from .files import BundleDir, read_checked, sha256_bytes
from .manifest import DEFAULT_VARIANT, MANIFEST_FILE, MODEL_ROLE, STEP_ROLE, ArtifactEntry, FileEntry, Manifest
from .predictor import Predictor
from .vet.npz import read_npz

if TYPE_CHECKING:
    from .isolate import Limits
    from .stream import StepModel

GOLDEN_KEYS = ("inputs", "outputs")
GOLDEN_MEMBERS = frozenset({*GOLDEN_KEYS, "holdout_inputs", "holdout_outputs", "raw_inputs", "raw_outputs"})
EXTRA_ALLOWED = (signing.SIGNATURE_FILE,)  # files a bundle may hold beside the ones its manifest lists


class Bundle:
    """A bundle directory with its parsed manifest. Cheap to open: model files are read on demand."""

    def __init__(self, path: Path, manifest: Manifest, verify: bool = True, folder: BundleDir | None = None) -> None:
        self.path, self.manifest, self.verify = Path(path), manifest, verify
        self.folder = folder  # the folder by handle (Bundle.open); None: files opened by path
        self._read: dict[str, bytes] = {}  # files read by `preload`

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        verify: bool = True,
        allow_extra: bool = False,
        trusted_keys: Sequence[str | os.PathLike[str]] | None = None,
    ) -> Bundle:
        """Open the folder once, check its signature when keys are trusted, parse its manifest.json
        through that handle, and list what is there.

        `trusted_keys` (default: the files in EDGERNN_TRUSTED_KEYS) are PEM public keys: when there are
        any, the bundle must carry a signature one of them verifies, checked before any file is parsed.

        Raises:
            SignatureError: unsigned, tampered or signed with another key (with trusted keys).
            ManifestError: anything wrong with the manifest, or files in the bundle that it does not
                list (unless `allow_extra`: a file nobody hashed is a file nobody can vouch for).
        """
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"a bundle path must be a str or os.PathLike, got {type(path).__name__}.")
        folder = BundleDir(path)
        keys = signing.trusted_keys_from_env() if trusted_keys is None else list(trusted_keys)
        signed = signing.verify(path, keys) if keys else None
        manifest = Manifest.read(Path(path), folder)
        if signed is not None and signed.get(MANIFEST_FILE) != manifest.text_sha256:
            raise SignatureError(
                f"{path}: {MANIFEST_FILE} changed after its signature was checked (sha256 "
                f"{manifest.text_sha256}, signed {signed.get(MANIFEST_FILE)}); do not run it."
            )
        if not allow_extra:
            listed = {MANIFEST_FILE, *manifest.files, *EXTRA_ALLOWED}
            unlisted = [n for n in folder.names() if n not in listed]
            if unlisted:
                raise ManifestError(
                    f"{path}: files the manifest does not list: {[checks.printable(n) for n in unlisted[:5]]}; "
                    "a bundle holds only the files its manifest hashes. Remove them, or pass "
                    "allow_extra=True (--allow-extra) to ignore them."
                )
        return cls(Path(path), manifest, verify, folder)

    def read(self, entry: ArtifactEntry | FileEntry) -> bytes:
        """The checked bytes of a file the manifest lists (see `read_checked`)."""
        if entry.file in self._read:
            return self._read[entry.file]
        return read_checked(self.path, entry, self.verify, folder=self.folder)

    def preload(self, entries: list[ArtifactEntry]) -> None:
        """Read `entries` now (checked), so later use never goes back to the folder, which an export
        may have replaced by then. A listed file that is absent is skipped: asking for it says so."""
        names = set(self.folder.names()) if self.folder else None
        for entry in entries:
            if names is None or entry.file in names:
                self._read[entry.file] = self.read(entry)

    def check_integrity(self) -> None:
        """Hash every file the manifest lists before anything runs; model.keras only if it was shipped.

        Raises:
            IntegrityError, ManifestError: the first file that is missing or differs.
        """
        for entry in self.manifest.entries:  # hashed even in a Bundle opened with verify=False
            read_checked(self.path, entry, folder=self.folder)
            for i, companion in enumerate(entry.extra.get("companions") or ()):  # model.h, model_test.c, ...
                companion = FileEntry.parse(companion, f"{entry.file} companion {i}", self.path)
                read_checked(self.path, companion, folder=self.folder)
        source = self.manifest.source
        if source is not None and source.file in (self.folder.names() if self.folder else []):
            read_checked(self.path, source, folder=self.folder)

    def golden(self) -> dict[str, np.ndarray]:
        """The golden vectors: 'inputs' in model units, the Keras 'outputs' for them (and the held-out pair)."""
        data = self.read(self.manifest.golden)
        golden = read_npz(
            data, f"{self.path}: golden file {self.manifest.golden.file}", GOLDEN_MEMBERS.__contains__, ManifestError
        )
        missing = [k for k in GOLDEN_KEYS if k not in golden]
        if missing:
            raise ManifestError(f"{self.path}: golden file lacks arrays {missing}.")
        count = [len(golden[k]) if golden[k].ndim else 0 for k in GOLDEN_KEYS]
        if min(count) == 0 or count[0] != count[1]:
            raise ManifestError(
                f"{self.path}: golden file holds {count[0]} inputs and {count[1]} outputs; a bundle proves "
                "itself on at least one window (and an output per input). Re-export the bundle."
            )
        return golden

    def check_variant(self, variant: str) -> None:
        """A variant the bundle does not hold is the caller's mistake (InputError), whatever is installed."""
        if not self.manifest.artifacts(role=MODEL_ROLE, variant=variant):
            raise InputError(
                f"{self.path}: no artifact of variant {variant!r}; the bundle has (format, variant) "
                f"{self.manifest.pairs()}. Pick one of those variants, or export this one "
                "(edgernn export --quantize)."
            )

    def choose_backend(self, variant: str = DEFAULT_VARIANT) -> str:
        """The `auto` rule: the first installed backend, in `backends.auto_order`, with an artifact for `variant`.

        Raises:
            InputError: the bundle has no artifact of `variant`.
            BackendUnavailableError: it has one, but no installed backend runs its format.
        """
        self.check_variant(variant)
        names = backends.auto_order(self.manifest)
        for name in names:
            found = self.manifest.artifacts(role=MODEL_ROLE, variant=variant, formats=backends.formats_of(name))
            if any(backends.runs(name, a) for a in found):
                return name
        raise BackendUnavailableError(
            f"no installed backend can run variant {variant!r} of this bundle (installed: {names or 'none'}; the "
            f"bundle has (format, variant) {self.manifest.pairs()}). Install one: pip install 'edgernn[litert]' or "
            "'edgernn[onnx]', or re-export the bundle with the 'numpy' format, which needs no runtime."
        )

    def artifact_for(self, backend: str, variant: str = DEFAULT_VARIANT) -> ArtifactEntry:
        """The window model `backend` runs for `variant` (InputError listing what the bundle has)."""
        found = self.manifest.artifacts(role=MODEL_ROLE, variant=variant, formats=backends.formats_of(backend))
        found = [a for a in found if backends.runs(backend, a)]  # e.g. tflm runs only the tflm variant
        if not found:
            raise InputError(
                f"{self.path}: no artifact for backend {backend!r} and variant {variant!r}; the bundle has "
                f"(format, variant) {self.manifest.pairs()}. Pick another backend or variant, or export that variant."
            )
        return found[0]

    def predictor(
        self, backend: str = "auto", variant: str = DEFAULT_VARIANT, *, artifact: ArtifactEntry | None = None
    ) -> Predictor:
        """A Predictor for `variant` in `backend` ('auto' picks), or for exactly the window model `artifact`.

        Raises:
            InputError, BackendUnavailableError, IntegrityError, ManifestError, ModelLoadError,
            UnsupportedModelError.
        """
        if artifact is None:
            if backend == "auto":
                backend = self.choose_backend(variant)  # checks the variant first
            else:
                self.check_variant(variant)
            artifact = self.artifact_for(backend, variant)
        runner = backends.open_window(backend, self.read(artifact), artifact, self.manifest.spec)
        return Predictor(self, runner, artifact)

    def step_model(
        self,
        backend: str,
        variant: str = DEFAULT_VARIANT,
        *,
        fmt: str | None = None,
        artifact: ArtifactEntry | None = None,
    ) -> StepModel:
        """The step model of `variant` (in format `fmt`, else the backend's first) loaded in `backend`.

        Raises:
            UnsupportedModelError: the bundle has no such step model (exported without --streaming).
            ManifestError: the step model's tensor widths differ from the manifest's.
        """
        streaming = self.manifest.require_streaming()
        if artifact is None:
            formats = (fmt,) if fmt else backends.formats_of(backend)
            found = self.manifest.artifacts(role=STEP_ROLE, variant=variant, formats=formats)
            if not found:
                raise UnsupportedModelError(
                    f"{self.path}: no {'/'.join(formats)} step model for variant {variant!r} (step models: "
                    f"{self.manifest.pairs(STEP_ROLE)}); pick a backend that runs one of those, or re-export "
                    "with --streaming."
                )
            artifact = found[0]
        from .stream import StepModel  # imported on first use: a predict-only app never loads streaming

        return StepModel.load(backend, self.read(artifact), artifact, self.manifest.spec, streaming)


def load(
    path: str | os.PathLike[str],
    backend: str = "auto",
    variant: str = DEFAULT_VARIANT,
    *,
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
    predictor = bundle.predictor(backend, variant)
    # Step models are read now, with the rest: a later p.stream() never reads a re-exported bundle.
    bundle.preload(bundle.manifest.artifacts(role=STEP_ROLE, variant=variant, formats=[predictor.artifact.format]))
    return predictor


__all__ = ["Bundle", "load", "read_checked", "sha256_bytes"]
