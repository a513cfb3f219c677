"""Bundle signatures with OpenSSF model-signing (the sigstore project's library for ML models).

    sign("models/seed-lstm", "keys/edgernn-models.pem")          # writes bundle.sig
    verify("models/seed-lstm", ["keys/edgernn-models.pub"])      # SignatureError unless it holds
    load("models/seed-lstm", trusted_keys=["keys/edgernn-models.pub"])

The signature covers every file of the folder, manifest.json included (model-signing hashes the
whole directory, so an added, removed or changed file fails), and is made with a private key
(elliptic curve, PEM) offline: no certificate authority, no network. What it proves and what it
does not is in docs/security.md. `model-signing` is the `sign` extra, imported only here and only
when a signature is made or checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from pathlib import Path

from .errors import ManifestError, MissingExtraError, SignatureError
from .records import SIGNATURE_FILE

MAX_SIGNATURE_BYTES = 1 << 20


def _library():
    try:
        from model_signing import hashing, signing, verifying
    except ImportError as exc:
        raise MissingExtraError(
            f"signing and verifying bundles needs model-signing ({exc}); pip install 'edgernn[sign]'."
        ) from None
    return hashing, signing, verifying


def _hashing(hashing, folder: Path):
    return hashing.Config().set_ignored_paths(paths=[folder / SIGNATURE_FILE], ignore_git_paths=False)


def sign(bundle: str | os.PathLike[str], key: str | os.PathLike[str], password: str | None = None) -> Path:
    """Sign every file of `bundle` with the PEM private key `key`; returns the signature's path.

    Raises:
        MissingExtraError: model-signing is not installed.
        SignatureError: the key cannot be read or used.
    """
    hashing, signing, _ = _library()
    folder = Path(bundle).resolve()
    if not (folder / "manifest.json").is_file():
        raise ManifestError(f"{bundle} is not a bundle directory (no manifest.json); nothing to sign.")
    target = folder / SIGNATURE_FILE
    target.unlink(missing_ok=True)
    try:
        config = signing.Config().use_elliptic_key_signer(private_key=Path(key), password=password)
        config.set_hashing_config(_hashing(hashing, folder)).sign(folder, target)
    except (OSError, ValueError, TypeError) as exc:
        target.unlink(missing_ok=True)
        raise SignatureError(f"cannot sign {bundle} with {key}: {type(exc).__name__}: {exc}") from None
    return target


def verify(bundle: str | os.PathLike[str], public_keys: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Check `bundle`'s signature against each key in turn; return the signed {file name: sha256}.

    Raises:
        SignatureError: no signature, or none of the keys verifies it (a changed, added or removed
            file, or another key), or no keys were given.
        MissingExtraError: model-signing is not installed.
    """
    folder = Path(bundle).resolve()
    if not public_keys:
        raise SignatureError(f"no trusted public keys given to verify {bundle} with.")
    if not (folder / SIGNATURE_FILE).is_file() or (folder / SIGNATURE_FILE).is_symlink():
        raise SignatureError(
            f"{bundle} is not signed (no {SIGNATURE_FILE}) and trusted keys were given; sign it with "
            "'edgernn sign BUNDLE --key KEY', or load it without trusted_keys."
        )
    hashing, _, verifying = _library()
    problems = []
    for key in public_keys:
        try:
            config = verifying.Config().use_elliptic_key_verifier(public_key=Path(key))
            config.set_hashing_config(_hashing(hashing, folder)).verify(folder, folder / SIGNATURE_FILE)
        except Exception as exc:  # noqa: BLE001 - the library raises ValueError, OSError, its own errors
            problems.append(f"{Path(key).name}: {str(exc)[:300]}")
            continue
        return signed_digests((folder / SIGNATURE_FILE).read_bytes(), bundle)
    raise SignatureError(
        f"{bundle}: the signature does not verify with any trusted key ({'; '.join(problems)}). The bundle was "
        "changed after signing, or signed with another key: do not run it."
    )


def signed_digests(signature: bytes, bundle: object) -> dict[str, str]:
    """{file name: sha256} from a model-signing signature's in-toto statement."""
    try:
        envelope = json.loads(signature[:MAX_SIGNATURE_BYTES])["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        resources = statement["predicate"]["resources"]
        return {r["name"]: r["digest"] for r in resources if r.get("algorithm") == "sha256"}
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(f"{bundle}: {SIGNATURE_FILE} is not a model-signing signature ({exc}).") from None
