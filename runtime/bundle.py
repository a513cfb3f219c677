"""Reading a bundle's files: each file is read once, checked against the manifest, then handed on.

The bytes that were hashed are the bytes the runtime parses, so a file swapped between the check
and the parse cannot slip through.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IntegrityError, ManifestError
from .manifest import safe_file_name

GOLDEN_KEYS = ("inputs", "outputs")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_regular(bundle: Path, name: str) -> bytes:
    """The bytes of a regular file inside `bundle`: never a FIFO or device (a read that never ends),
    never a symlink out of the bundle (the manifest's plain names would mean nothing)."""
    path = bundle / name
    if path.is_symlink() and bundle.resolve() not in path.resolve().parents:
        raise ManifestError(f"{path} is a symlink to {path.resolve()}, outside the bundle; copy the file in instead.")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ManifestError(f"{path} is not a regular file; a bundle holds plain files only.")
        return fh.read()


def read_checked(bundle: Path, entry: dict[str, Any], verify: bool = True) -> bytes:
    """Read the file an entry names and check its size and sha256.

    Args:
        bundle: the bundle directory.
        entry: a manifest entry with 'file', 'bytes' and 'sha256'.
        verify: when False, skip the size and hash check (debugging, fuzzing).

    Raises:
        ManifestError: the file is missing or its name is not a plain file name.
        IntegrityError: the size or the sha256 differs from the manifest.
    """
    name = safe_file_name(entry.get("file"))
    path = bundle / name
    try:
        data = _read_regular(bundle, name)
    except FileNotFoundError:
        raise ManifestError(f"{bundle}: the manifest lists {name!r} but the file is missing.") from None
    except OSError as exc:
        raise ManifestError(f"{bundle}: cannot read {name!r} ({exc}).") from None
    if not verify:
        return data
    if len(data) != entry["bytes"]:
        raise IntegrityError(
            f"{path}: {len(data)} bytes on disk, the manifest says {entry['bytes']}; the file was changed "
            "or truncated. Restore the bundle or export it again."
        )
    digest = sha256_bytes(data)
    if digest != entry["sha256"]:
        raise IntegrityError(
            f"{path}: sha256 {digest} does not match the manifest ({entry['sha256']}); the file was "
            "changed or corrupted. Restore the bundle or export it again."
        )
    return data


def load_golden(bundle: Path, manifest: dict[str, Any], verify: bool = True) -> dict[str, np.ndarray]:
    """Return the golden vectors: 'inputs' in model units and the Keras 'outputs' for them."""
    data = read_checked(bundle, manifest["golden"], verify=verify)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            golden = {k: np.asarray(npz[k]) for k in npz.files}
    except Exception as exc:  # np.load raises many types on a damaged file
        raise ManifestError(f"{bundle}: golden file is not a readable .npz ({exc}).") from None
    missing = [k for k in GOLDEN_KEYS if k not in golden]
    if missing:
        raise ManifestError(f"{bundle}: golden file lacks arrays {missing}.")
    return golden


def find_artifact(manifest: dict[str, Any], formats: tuple[str, ...], variant: str) -> dict[str, Any] | None:
    """First artifact whose format is in `formats` (in that order) with the given variant."""
    for fmt in formats:
        for art in manifest["artifacts"]:
            if art["format"] == fmt and art["variant"] == variant and art.get("role", "model") == "model":
                return art
    return None
