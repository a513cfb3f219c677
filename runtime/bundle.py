"""The one bundle reader: the manifest parsed once, each file read once, hashed, and those bytes parsed.

    bundle = Bundle.open("models/seed-lstm")
    p = bundle.predictor("auto", "float32")       # a Predictor (window model)
    steps = bundle.step_model("litert")           # a StepModel (streaming)

`load()`, validate, bench, streaming and export's proof all open artifacts through here, so a file
swapped between the check and the parse cannot slip through, and every opener checks the same things.
"""

from __future__ import annotations

import io
import os
import stat
from typing import TYPE_CHECKING

import numpy as np

from . import backends, checks
from .errors import BackendUnavailableError, InputError, IntegrityError, ManifestError, UnsupportedModelError
from .manifest import DEFAULT_VARIANT, MODEL_ROLE, STEP_ROLE, ArtifactEntry, FileEntry, Manifest
from .predictor import Predictor

if TYPE_CHECKING:
    from pathlib import Path

    from .stream import StepModel

GOLDEN_KEYS = ("inputs", "outputs")
# Cold start (benchmarks/cold_start.py): importing hashlib loads OpenSSL (~2 ms) and pathlib pulls in
# urllib (~3 ms), while the bare interpreter they are compared with takes ~5 ms in all. Files up to
# SMALL_FILE are hashed with CPython's builtin sha256; bigger ones with OpenSSL's, which is faster.
SMALL_FILE = 1 << 20
try:
    from _sha2 import sha256 as _builtin_sha256  # Python >= 3.12
except ImportError:  # pragma: no cover - the module's name before 3.12
    try:
        from _sha256 import sha256 as _builtin_sha256
    except ImportError:  # a build without it
        _builtin_sha256 = None


def sha256_bytes(data: bytes) -> str:
    if _builtin_sha256 is not None and len(data) <= SMALL_FILE:
        return _builtin_sha256(data).hexdigest()
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _read_regular(bundle: str, name: str) -> bytes:
    """The bytes of a regular file inside `bundle`: never a FIFO or device (a read that never ends),
    never a symlink out of the bundle (the manifest's plain names would mean nothing)."""
    path = os.path.join(bundle, name)
    if os.path.islink(path):
        target, root = os.path.realpath(path), os.path.realpath(bundle)
        if os.path.dirname(target) != root and not target.startswith(root + os.sep):
            raise ManifestError(f"{path} is a symlink to {target}, outside the bundle; copy the file in instead.")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ManifestError(f"{path} is not a regular file; a bundle holds plain files only.")
        return fh.read()


def read_checked(bundle: str | os.PathLike[str], entry: ArtifactEntry | FileEntry, verify: bool = True) -> bytes:
    """Read the file an entry names and check its size and sha256.

    Raises:
        ManifestError: the file is missing or its name is not a plain file name.
        IntegrityError: the size or the sha256 differs from the manifest (skipped when verify is False).
    """
    bundle = os.fspath(bundle)
    name = checks.file_name(entry.file, bundle)
    path = os.path.join(bundle, name)
    try:
        data = _read_regular(bundle, name)
    except FileNotFoundError:
        raise ManifestError(f"{bundle}: the manifest lists {name!r} but the file is missing.") from None
    except OSError as exc:
        raise ManifestError(f"{bundle}: cannot read {name!r} ({exc}).") from None
    if not verify:
        return data
    if len(data) != entry.bytes:
        raise IntegrityError(
            f"{path}: {len(data)} bytes on disk, the manifest says {entry.bytes}; the file was changed "
            "or truncated. Restore the bundle or export it again."
        )
    digest = sha256_bytes(data)
    if digest != entry.sha256:
        raise IntegrityError(
            f"{path}: sha256 {digest} does not match the manifest ({entry.sha256}); the file was "
            "changed or corrupted. Restore the bundle or export it again."
        )
    return data


class Bundle:
    """A bundle directory with its parsed manifest. Cheap to open: model files are read on demand."""

    def __init__(self, path: str | os.PathLike[str], manifest: Manifest, verify: bool = True) -> None:
        self.folder, self.manifest, self.verify = os.fspath(path), manifest, verify
        self._path: Path | None = None

    def __repr__(self) -> str:
        return f"Bundle({self.folder!r})"

    @property
    def path(self) -> Path:
        """The bundle directory as a Path (pathlib is imported on first use: see SMALL_FILE)."""
        if self._path is None:
            from pathlib import Path

            self._path = Path(self.folder)
        return self._path

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = True) -> Bundle:
        """Parse `path/manifest.json` (ManifestError on anything wrong with it)."""
        return cls(path, Manifest.read(path), verify)

    def read(self, entry: ArtifactEntry | FileEntry) -> bytes:
        """The checked bytes of a file the manifest lists (see `read_checked`)."""
        return read_checked(self.folder, entry, self.verify)

    def check_integrity(self) -> None:
        """Hash every file the manifest lists before anything runs; model.keras only if it was shipped.

        Raises:
            IntegrityError, ManifestError: the first file that is missing or differs.
        """
        for entry in self.manifest.entries:  # hashed even in a Bundle opened with verify=False
            read_checked(self.folder, entry)
        source = self.manifest.source
        if source is not None and os.path.isfile(os.path.join(self.folder, source.file)):
            read_checked(self.folder, source)

    def golden(self) -> dict[str, np.ndarray]:
        """The golden vectors: 'inputs' in model units, the Keras 'outputs' for them (and the held-out pair)."""
        data = self.read(self.manifest.golden)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                golden = {k: np.asarray(npz[k]) for k in npz.files}
        except Exception as exc:  # np.load raises many types on a damaged file
            raise ManifestError(f"{self.folder}: golden file is not a readable .npz ({exc}).") from None
        missing = [k for k in GOLDEN_KEYS if k not in golden]
        if missing:
            raise ManifestError(f"{self.folder}: golden file lacks arrays {missing}.")
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
            if self.manifest.artifacts(role=MODEL_ROLE, variant=variant, formats=backends.formats_of(name)):
                return name
        raise BackendUnavailableError(
            f"no installed backend can run variant {variant!r} of this bundle (installed: {names or 'none'}; the "
            f"bundle has (format, variant) {self.manifest.pairs()}). Install one: pip install 'edgernn[litert]' or "
            "'edgernn[onnx]', or re-export the bundle with the 'numpy' format, which needs no runtime."
        )

    def artifact_for(self, backend: str, variant: str = DEFAULT_VARIANT) -> ArtifactEntry:
        """The window model `backend` runs for `variant` (InputError listing what the bundle has)."""
        found = self.manifest.artifacts(role=MODEL_ROLE, variant=variant, formats=backends.formats_of(backend))
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
        if threads > 1 and backends.intra_op_threads(backend):  # the runtime's own pool (ort.py)
            return Predictor(self, backends.open_window(backend, content, artifact, spec, threads), artifact)
        runner = backends.open_window(backend, content, artifact, spec)
        if threads > 1:  # big batches split over one runner per thread (runtime/parallel.py)
            from .parallel import ParallelRunner, macs_per_window, min_rows

            more = [backends.open_window(backend, content, artifact, spec) for _ in range(threads - 1)]
            runner = ParallelRunner([runner, *more], min_rows(macs_per_window(self.manifest)))
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
                    f"{self.folder}: no {'/'.join(formats)} step model for variant {variant!r} (step models: "
                    f"{self.manifest.pairs(STEP_ROLE)}); pick a backend that runs one of those, or re-export "
                    "with --streaming."
                )
            artifact = found[0]
        from .stream import StepModel  # imported on first use: a predict-only app never loads streaming

        return StepModel.load(backend, self.read(artifact), artifact, self.manifest.spec, streaming)


def check_threads(threads: object) -> int:
    """A positive thread count (0 means every core), or InputError."""
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise InputError(f"threads must be a positive integer (or 0 for every core), got {threads!r}.")
    return threads or (os.cpu_count() or 1)


def load(
    path: str | os.PathLike[str],
    backend: str = "auto",
    variant: str = DEFAULT_VARIANT,
    *,
    threads: int = 1,
    verify: bool = True,
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

    Raises:
        ManifestError, IntegrityError, ModelLoadError, UnsupportedModelError, InputError,
        BackendUnavailableError.

    Example:
        >>> p = load("models/seed-lstm")
        >>> p.predict([[[6.0], [7.0], [8.0], [9.0]]]).shape
        (1, 1)
    """
    return Bundle.open(path, verify=verify).predictor(backend, variant, threads=threads)


__all__ = ["Bundle", "load", "read_checked", "sha256_bytes"]
