"""A bundle directory opened once, and every file in it opened relative to that handle.

    folder = BundleDir("models/seed-lstm")
    data = folder.read("model.onnx", limit=4437)   # at most `limit` bytes are ever read

The folder is opened once (`O_DIRECTORY`); each file with `openat(dir, name, O_NOFOLLOW)`, so a
symlink planted in the bundle (or swapped in between a check and the open) is refused by the kernel,
not by a check that races it, and a folder swapped in by an export after the open is never read:
the handle keeps pointing at the bundle the manifest came from. A file is `fstat`ed before it is
read and at most the manifest's size (+1, to see that it is longer) is read, so a 6 GiB sparse file
in place of a 5 KB artifact costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from typing import TYPE_CHECKING

from . import checks
from .errors import IntegrityError, ManifestError

if TYPE_CHECKING:
    from .records import ArtifactEntry, FileEntry

MAX_UNVERIFIED_BYTES = 1 << 30  # verify=False reads no more than this of one file

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: opening a FIFO planted in the bundle must not block (it is refused after fstat).
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_BY_HANDLE = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")


class BundleDir:
    """The bundle folder by handle. Close it (or use `with`); it is closed when collected too."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path, self.fd = os.fspath(path), -1  # a str: pathlib costs the cold start ~3 ms (urllib)
        try:
            self.fd = os.open(self.path, _DIR_FLAGS) if _BY_HANDLE else -1
        except (FileNotFoundError, NotADirectoryError):
            raise ManifestError(f"{self.path} is not a bundle directory (expected a folder with a manifest).") from None
        except OSError as exc:
            raise ManifestError(f"{self.path}: cannot open the bundle folder ({exc.strerror}).") from None
        if not _BY_HANDLE and not os.path.isdir(self.path):
            raise ManifestError(f"{self.path} is not a bundle directory (expected a folder with manifest.json).")

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> BundleDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def names(self) -> list[str]:
        """The names in the folder (what is there, listed or not)."""
        return sorted(os.listdir(self.fd if self.fd >= 0 else self.path))

    def replaced(self) -> bool:
        """True when the folder this handle holds was removed, or its path now names another folder (an
        export swapped a new bundle in, and may be deleting the old one file by file)."""
        if self.fd < 0:
            return False
        held = os.fstat(self.fd)
        try:
            now = os.stat(self.path)
        except OSError:
            return True
        return held.st_nlink == 0 or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)

    def read(self, name: str, limit: int, *, exact: int | None = None) -> bytes:
        """The bytes of the plain file `name`, reading at most `limit` + 1 bytes.

        Raises:
            FileNotFoundError: no such file (the caller says what was expected of it).
            ManifestError: a symlink, FIFO, device or folder in its place, or an unreadable file.
            IntegrityError: `exact` is given and the file's size differs (nothing is read then).
        """
        where = os.path.join(self.path, name)
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=self.fd) if self.fd >= 0 else os.open(where, _FILE_FLAGS)
        except FileNotFoundError:
            if self.replaced():
                raise ManifestError(
                    f"{self.path} was replaced while it was being read (an export swapped a new bundle in); "
                    "load it again."
                ) from None
            raise
        except OSError as exc:
            import errno  # the error path only: ~40 us of every load's cold start otherwise

            if exc.errno == errno.ELOOP:
                raise ManifestError(
                    f"{where} is a symlink; a bundle holds plain files only (copy the file in instead)."
                ) from None
            raise ManifestError(f"{where}: cannot open ({exc.strerror}).") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ManifestError(f"{where} is not a regular file; a bundle holds plain files only.")
        with os.fdopen(fd, "rb") as fh:
            if exact is not None and info.st_size != exact:
                raise IntegrityError(
                    f"{where}: {info.st_size} bytes on disk, the manifest says {exact}; the file was changed "
                    "or truncated. Restore the bundle or export it again."
                )
            if info.st_size > limit:
                raise ManifestError(f"{where} is {info.st_size} bytes; the limit for this file is {limit}.")
            try:
                return fh.read(limit + 1)
            except OSError as exc:
                raise ManifestError(f"{where}: cannot read ({exc.strerror}).") from None


# Cold start (benchmarks/cold_start.py): importing hashlib loads OpenSSL (~2 ms), while the bare
# interpreter edgernn is compared with takes ~5 ms in all. Files up to SMALL_FILE are hashed with
# CPython's builtin sha256; bigger ones with OpenSSL's, which is faster.
SMALL_FILE = 1 << 20
try:  # chosen by version: a failed import searches all of sys.path (~50 us of cold start)
    if sys.version_info >= (3, 12):
        from _sha2 import sha256 as _builtin_sha256
    else:  # pragma: no cover - the module's name before 3.12
        from _sha256 import sha256 as _builtin_sha256
except ImportError:  # pragma: no cover - a build without it
    _builtin_sha256 = None


def sha256_bytes(data: bytes) -> str:
    if _builtin_sha256 is not None and len(data) <= SMALL_FILE:
        return _builtin_sha256(data).hexdigest()
    import hashlib

    return hashlib.sha256(data).hexdigest()


def read_checked(
    bundle: str | os.PathLike[str],
    entry: ArtifactEntry | FileEntry,
    verify: bool = True,
    *,
    folder: BundleDir | None = None,
) -> bytes:
    """Read the file an entry names (through `folder`, the bundle by handle, when given) and check it.

    The size on disk is compared with the manifest before anything is read, and no more than the
    manifest's size is ever read (with verify False: no more than MAX_UNVERIFIED_BYTES).

    Raises:
        ManifestError: the file is missing, not a plain file, or its name is not a plain file name.
        IntegrityError: the size or the sha256 differs from the manifest (skipped when verify is False).
    """
    name = checks.file_name(entry.file, bundle)
    bundle = os.fspath(bundle)
    path = os.path.join(bundle, name)
    own = folder is None
    folder = BundleDir(bundle) if folder is None else folder
    try:
        if verify:
            data = folder.read(name, entry.bytes, exact=entry.bytes)
        else:
            data = folder.read(name, MAX_UNVERIFIED_BYTES)
    except FileNotFoundError:
        raise ManifestError(f"{bundle}: the manifest lists {name!r} but the file is missing.") from None
    finally:
        if own:
            folder.close()
    if not verify:
        return data
    if len(data) != entry.bytes:  # the file changed between fstat and read
        raise IntegrityError(
            f"{path}: {len(data)} bytes read, the manifest says {entry.bytes}; the file was changed "
            "or truncated. Restore the bundle or export it again."
        )
    digest = sha256_bytes(data)
    if digest != entry.sha256:
        raise IntegrityError(
            f"{path}: sha256 {digest} does not match the manifest ({entry.sha256}); the file was "
            "changed or corrupted. Restore the bundle or export it again."
        )
    return data
