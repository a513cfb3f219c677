"""A bounds-checked .npz reader: members and their declared sizes checked before anything is inflated.

`np.load` trusts the zip's and each .npy header's sizes: a 3 MB zip bomb inflated to 3 GiB, and a
header claiming a shape of 2^40 floats allocates before reading. Here the zip directory is read
first (member names against the caller's set, plain stored/deflated members, total declared size
within a bound), then each member's .npy header (no object dtype; header + shape x itemsize must be
exactly the member's declared size), and only then the arrays, which zipfile cuts at the declared
size (and checks against the CRC).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from typing import Callable

import numpy as np

MAX_INFLATE_RATIO = 64  # np.savez stores (ratio 1); compressed weights are < 4x; a bomb is 1000x
MAX_INFLATED = 1 << 30
SLACK = 1 << 20
ANY_NAME = re.compile(r"^[\w.-]+(/[\w.-]+)*$")


def read_npz(
    content: bytes,
    file: str,
    allowed: Callable[[str], bool],
    error: type[Exception],
) -> dict[str, np.ndarray]:
    """The arrays of an .npz held in `content`, each name passing `allowed`; `error` on anything else.

    Raises:
        error (the caller's type: ModelLoadError for an artifact, ManifestError for golden.npz).
    """

    def bad(why: str) -> Exception:
        return error(f"{file}: not a readable .npz ({why}); re-export the bundle.")

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise bad(f"{type(exc).__name__}: {exc}") from None
    limit = min(MAX_INFLATED, MAX_INFLATE_RATIO * len(content) + SLACK)
    declared = sum(m.file_size for m in members)
    if declared > limit:
        raise bad(f"its members declare {declared} bytes inflated from {len(content)}; the limit is {limit}")
    arrays: dict[str, np.ndarray] = {}
    for member in members:
        key = member.filename[:-4] if member.filename.endswith(".npy") else None
        if key is None or not ANY_NAME.match(key) or not allowed(key) or key in arrays:
            raise bad(f"unexpected member {member.filename!r}")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or member.flag_bits & 0x1:
            raise bad(f"member {member.filename!r} is encrypted or uses compression {member.compress_type}")
        try:
            with archive.open(member) as fh:
                arrays[key] = _array(fh, member, bad)
        except Exception as exc:  # noqa: BLE001 - numpy's header parser raises SyntaxError, TokenError, ...
            raise bad(f"member {member.filename!r}: {type(exc).__name__}: {exc}") from None
    return arrays


def _array(fh, member: zipfile.ZipInfo, bad) -> np.ndarray:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise bad(f"member {member.filename!r} has .npy version {version}")
    if dtype.hasobject:
        raise bad(f"member {member.filename!r} holds Python objects (pickles are never loaded)")
    nbytes = math.prod(shape) * dtype.itemsize
    if fh.tell() + nbytes != member.file_size:
        raise bad(f"member {member.filename!r} declares shape {shape} of {dtype} but holds {member.file_size} bytes")
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise bad(f"member {member.filename!r} is truncated")
    array = np.frombuffer(bytearray(data), dtype=dtype)  # writable, like np.load's
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
