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
from typing import TYPE_CHECKING

import numpy as np

from . import backends, checks
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
from .records import SIGNATURE_FILE, TRUSTED_KEYS_ENV

if TYPE_CHECKING:
    from pathlib import Path

    from .stream import StepModel

GOLDEN_KEYS = ("inputs", "outputs")
GOLDEN_MEMBERS = frozenset({*GOLDEN_KEYS, "holdout_inputs", "holdout_outputs", "raw_inputs", "raw_outputs"})
EXTRA_ALLOWED = (SIGNATURE_FILE,)  # files a bundle may hold beside the ones its manifest lists


class Bundle:
    """A bundle directory with its parsed manifest. Cheap to open: model files are read on demand."""

    def __init__(
        self, path: str | os.PathLike[str], manifest: Manifest, verify: bool = True, handle: BundleDir | None = None
    ) -> None:
        self.folder, self.manifest, self.verify = os.fspath(path), manifest, verify
        self.handle = handle  # the folder opened once (Bundle.open); None: files opened by path
        self._path: Path | None = None
        self._read: dict[str, bytes] = {}  # files read by `preload`

    def __repr__(self) -> str:
        return f"Bundle({self.folder!r})"

    @property
    def path(self) -> Path:
        """The bundle directory as a Path (pathlib is imported on first use: cold start, runtime/files.py)."""
        if self._path is None:
            from pathlib import Path

            self._path = Path(self.folder)
        return self._path

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
        keys = keys_to_trust(trusted_keys)
        if keys:  # model-signing and its dependencies are imported only for a signed load
            from .signing import verify as verify_signature

        signed = verify_signature(path, keys) if keys else None
        manifest = Manifest.read(path, folder)
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
        return cls(path, manifest, verify, folder)

    def read(self, entry: ArtifactEntry | FileEntry) -> bytes:
        """The checked bytes of a file the manifest lists (see `read_checked`)."""
        if entry.file in self._read:
            return self._read[entry.file]
        return read_checked(self.folder, entry, self.verify, folder=self.handle)

    def preload(self, entries: list[ArtifactEntry]) -> None:
        """Read `entries` now (checked), so later use never goes back to the folder, which an export
        may have replaced by then. A listed file that is absent is skipped: asking for it says so."""
        names = set(self.handle.names()) if self.handle else None
        for entry in entries:
            if names is None or entry.file in names:
                self._read[entry.file] = self.read(entry)

    def check_integrity(self) -> None:
        """Hash every file the manifest lists before anything runs; model.keras only if it was shipped.

        Raises:
            IntegrityError, ManifestError: the first file that is missing or differs.
        """
        for entry in self.manifest.entries:  # hashed even in a Bundle opened with verify=False
            read_checked(self.folder, entry, folder=self.handle)
            for i, companion in enumerate(entry.extra.get("companions") or ()):  # model.h, model_test.c, ...
                companion = FileEntry.parse(companion, f"{entry.file} companion {i}", self.folder)
                read_checked(self.folder, companion, folder=self.handle)
        source = self.manifest.source
        if source is not None and source.file in (self.handle.names() if self.handle else []):
            read_checked(self.folder, source, folder=self.handle)

    def golden(self) -> dict[str, np.ndarray]:
        """The golden vectors: 'inputs' in model units, the Keras 'outputs' for them (and the held-out pair)."""
        from .vet.npz import read_npz  # zipfile (+ pathlib) costs ms of cold start; only golden checks need it

        data = self.read(self.manifest.golden)
        golden = read_npz(
            data, f"{self.folder}: golden file {self.manifest.golden.file}", GOLDEN_MEMBERS.__contains__, ManifestError
        )
        missing = [k for k in GOLDEN_KEYS if k not in golden]
        if missing:
            raise ManifestError(f"{self.folder}: golden file lacks arrays {missing}.")
        count = [len(golden[k]) if golden[k].ndim else 0 for k in GOLDEN_KEYS]
        if min(count) == 0 or count[0] != count[1]:
            raise ManifestError(
                f"{self.folder}: golden file holds {count[0]} inputs and {count[1]} outputs; a bundle proves "
                "itself on at least one window (and an output per input). Re-export the bundle."
            )
        return golden

    def check_variant(self, variant: str) -> None:
        """A variant the bundle does not hold is the caller's mistake (InputError), whatever is installed."""
        if not self.manifest.artifacts(role=MODEL_ROLE, variant=variant):
            raise InputError(
                f"{self.folder}: no artifact of variant {variant!r}; the bundle has (format, variant) "
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
                f"{self.folder}: no artifact for backend {backend!r} and variant {variant!r}; the bundle has "
                f"(format, variant) {self.manifest.pairs()}. Pick another backend or variant, or export that variant."
            )
        return found[0]

    def predictor(
        self,
        backend: str = "auto",
        variant: str = DEFAULT_VARIANT,
        *,
        artifact: ArtifactEntry | None = None,
        threads: int = 1,
    ) -> Predictor:
        """A Predictor for `variant` in `backend` ('auto' picks), or for exactly the window model `artifact`;
        `threads` as in `load`.

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
        content, spec = self.read(artifact), self.manifest.spec
        threads = check_threads(threads)
        predictor = _predictor_class(spec)  # chosen once here: the float32 hot path has no token branch
        if threads > 1 and backends.intra_op_threads(backend):  # the runtime's own pool (ort.py)
            return predictor(self, backends.open_window(backend, content, artifact, spec, threads), artifact)
        runner = backends.open_window(backend, content, artifact, spec)
        if threads > 1:  # big batches split over one runner per thread (runtime/parallel.py)
            from .parallel import ParallelRunner, macs_per_window, min_rows

            more = [backends.open_window(backend, content, artifact, spec) for _ in range(threads - 1)]
            runner = ParallelRunner([runner, *more], min_rows(macs_per_window(self.manifest)))
        return predictor(self, runner, artifact)

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
                    f"{self.folder}: no {'/'.join(formats)} step model for variant {variant!r} (step models: "
                    f"{self.manifest.pairs(STEP_ROLE)}); pick a backend that runs one of those, or re-export "
                    "with --streaming."
                )
            artifact = found[0]
        from .stream import StepModel  # imported on first use: a predict-only app never loads streaming

        return StepModel.load(backend, self.read(artifact), artifact, self.manifest.spec, streaming)


def keys_to_trust(trusted_keys: Sequence[str | os.PathLike[str]] | None = None) -> list:
    """The trusted keys: those given, else EDGERNN_TRUSTED_KEYS (os.pathsep-separated); [] for none."""
    if trusted_keys is not None:
        return list(trusted_keys)
    return [k for k in os.environ.get(TRUSTED_KEYS_ENV, "").split(os.pathsep) if k]


def check_threads(threads: object) -> int:
    """A positive thread count (0 means every core), or InputError."""
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise InputError(f"threads must be a positive integer (or 0 for every core), got {threads!r}.")
    return threads or (os.cpu_count() or 1)


__all__ = ["Bundle", "check_threads", "keys_to_trust", "read_checked", "sha256_bytes"]


def _predictor_class(spec) -> type[Predictor]:
    """Predictor, or the subclass for token ids, several outputs and/or several inputs (loaded only for those)."""
    if not spec.tokens and not spec.heads and not spec.inputs:
        return Predictor
    from .feeds import InputsPredictor
    from .heads import MultiPredictor
    from .tokens import TokenPredictor

    kinds = [(spec.heads, MultiPredictor), (spec.tokens, TokenPredictor), (spec.inputs, InputsPredictor)]
    bases = tuple(cls for wanted, cls in kinds if wanted)
    return bases[0] if len(bases) == 1 else type("".join(c.__name__ for c in bases), bases, {})
