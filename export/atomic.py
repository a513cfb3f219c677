"""Atomic directory writes: build a bundle in a sibling temp folder, then swap it into place.

On Linux the swap is one renameat2(RENAME_EXCHANGE) call, so at every instant the final path holds
either the old complete bundle or the new one. Elsewhere it falls back to two renames, where a crash
between them leaves the old bundle under a `.old-` name beside the target (never a partial one).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgernn.runtime.errors import ExportError
from edgernn.runtime.manifest import FORMAT_NAME, MANIFEST_FILE

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file in `path` and the folder itself to disk."""
    for child in path.iterdir():
        if child.is_file():
            with open(child, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(path)


def check_replaceable(target: Path) -> None:
    """Refuse to replace anything at `target` but nothing, an empty folder, or an edgernn bundle.

    An export swaps its bundle in and deletes what was there, so `--out .` or `--out ~/data` must
    never be taken as "the old bundle".
    """
    if not os.path.lexists(target):
        return
    if target.is_symlink() or not target.is_dir():
        raise ExportError(f"{target} exists and is not a folder; refusing to replace it. Choose another --out.")
    if not any(target.iterdir()):
        return
    try:
        is_bundle = json.loads((target / MANIFEST_FILE).read_text(encoding="utf-8")).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError):
        is_bundle = False
    if not is_bundle:
        raise ExportError(
            f"{target} is a folder that is not an edgernn bundle (no {MANIFEST_FILE} of format {FORMAT_NAME!r}); "
            "an export replaces its target, so it refuses to delete it. Choose a new or empty folder."
        )


def replace_dir(new: Path, target: Path) -> None:
    """Move the complete folder `new` to `target`, replacing an empty folder or a bundle there atomically."""
    check_replaceable(target)
    if not target.exists():
        os.rename(new, target)
    elif _exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the old bundle
    else:
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
        os.rename(new, target)
        shutil.rmtree(old)
    _fsync_dir(target.parent)


def write_file(path: Path, data: bytes | str) -> Path:
    """Write a file atomically: a temp file beside `path`, flushed to disk, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, owned by someone else
        return True
    return True


def _held(lock: Path) -> bool:
    """True while another process holds `lock` (an export's flock: released by the kernel when it dies)."""
    try:
        fd = os.open(lock, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def clean_stale(target: Path) -> list[Path]:
    """Remove `.NAME.tmp-PID-*` folders beside `target` whose exporting process is gone.

    A SIGKILLed export cannot remove its own temp folder. Liveness is the export's lock file beside its
    folder (`FOLDER.lock`, flocked for the whole export): a PID says nothing across PID namespaces (two
    containers sharing a volume), a lock does. Folders without a lock (older edgernn) fall back to the
    PID. `.old-` folders of the non-Linux fallback may hold the only copy of a bundle and are left alone.
    """
    removed = []
    prefix = f".{target.name}.tmp-"
    for path in target.parent.glob(f"{glob.escape(prefix)}*"):
        if path.suffix == ".lock" or path.is_symlink() or not path.is_dir():
            continue
        lock = path.with_name(path.name + ".lock")
        pid_text = path.name[len(prefix) :].split("-", 1)[0]
        if lock.exists():
            if _held(lock):
                continue
        elif not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        lock.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A temp folder beside `target`, locked while it lives; removed if the block raises, swapped in if not."""
    target = Path(target).absolute()
    check_replaceable(target)  # before any work: refuse early, and again just before the swap
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    lock = tmp.with_name(tmp.name + ".lock")
    lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)  # held until the swap is done; the kernel drops it if we die
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a bundle is an ordinary folder (no umask dance: it races threads)
    try:
        yield tmp
        fsync_tree(tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        lock.unlink(missing_ok=True)
        os.close(lock_fd)
