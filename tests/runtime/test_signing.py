"""Signatures: the shipped bundles verify with the repo's public key; any change, addition or other key fails.

Real model-signing (OpenSSF), real elliptic-curve keys made here; nothing is mocked.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgernn.runtime import ManifestError, SignatureError, load
from edgernn.runtime.records import TRUSTED_KEYS_ENV
from edgernn.runtime.signing import SIGNATURE_FILE, sign, verify

from conftest import MODELS
from helpers import copy_bundle

pytest.importorskip("model_signing", reason="model-signing is not installed (pip install 'edgernn[sign]')")

ROOT = MODELS.parent
SHIPPED_KEY = ROOT / "keys" / "edgernn-models.pub"
SEED = MODELS / "seed-lstm"
X = np.array([[[6.0], [7.0], [8.0], [9.0]]], dtype=np.float32)
SHIPPED = sorted(p.name for p in MODELS.iterdir() if (p / "manifest.json").is_file())


def _key_pair(folder):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "key.pem", folder / "key.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory):
    return _key_pair(tmp_path_factory.mktemp("other-keys"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_bundle_verifies_with_the_public_key_in_the_repo(name):
    signed = verify(MODELS / name, [SHIPPED_KEY])
    assert "manifest.json" in signed and SIGNATURE_FILE not in signed
    p = load(MODELS / name, trusted_keys=[SHIPPED_KEY])
    assert p.predict(np.zeros((1, p.spec.timesteps, p.spec.features), np.float32)).shape[0] == 1


@pytest.mark.parametrize("file", sorted(p.name for p in SEED.iterdir() if p.name != SIGNATURE_FILE))
def test_a_one_byte_change_to_any_file_is_refused(tmp_path, file):
    bundle = copy_bundle(SEED, tmp_path / "b")
    path = bundle / file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match="does not verify with any trusted key"):
        load(bundle, trusted_keys=[SHIPPED_KEY])


def test_an_added_file_and_another_key_are_refused(tmp_path, other_keys):
    bundle = copy_bundle(SEED, tmp_path / "b")
    (bundle / "notes.txt").write_text("hello")
    with pytest.raises(SignatureError, match="notes.txt"):
        load(bundle, trusted_keys=[SHIPPED_KEY], allow_extra=True)
    (bundle / "notes.txt").unlink()
    private, public = other_keys
    sign(bundle, private)  # re-signed by someone else: valid, but not by a key we trust
    assert verify(bundle, [public])  # the neighbour: it does verify with its own key
    with pytest.raises(SignatureError, match="does not verify with any trusted key"):
        load(bundle, trusted_keys=[SHIPPED_KEY])


def test_an_unsigned_bundle_is_refused_only_when_keys_are_trusted(tmp_path, monkeypatch):
    bundle = copy_bundle(SEED, tmp_path / "b")
    (bundle / SIGNATURE_FILE).unlink()
    assert load(bundle).predict(X).shape == (1, 1)  # no trusted keys: sha256 checks only
    with pytest.raises(SignatureError, match="is not signed"):
        load(bundle, trusted_keys=[SHIPPED_KEY])
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(SHIPPED_KEY))
    with pytest.raises(SignatureError, match="is not signed"):
        load(bundle)
    assert load(SEED).predict(X).shape == (1, 1)  # the signed one, through the environment's key


def test_a_signature_file_is_the_one_unlisted_file_a_bundle_may_hold(tmp_path):
    bundle = copy_bundle(SEED, tmp_path / "b")
    assert load(bundle).predict(X).shape == (1, 1)
    (bundle / "bundle.sig.bak").write_bytes((bundle / SIGNATURE_FILE).read_bytes())
    with pytest.raises(ManifestError, match="does not list"):
        load(bundle)


def test_cli_sign_and_verify_exit_codes(tmp_path, other_keys):
    private, public = other_keys
    bundle = copy_bundle(SEED, tmp_path / "b")

    def cli(*args):
        command = [sys.executable, "-m", "edgernn.runtime", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True)

    assert cli("verify", bundle, "--key", SHIPPED_KEY).returncode == 0
    out = cli("sign", bundle, "--key", private)
    assert out.returncode == 0 and "signed" in out.stdout
    refused = cli("verify", bundle, "--key", SHIPPED_KEY)
    assert refused.returncode == 3 and "SignatureError" in refused.stderr
    assert cli("verify", bundle, "--key", SHIPPED_KEY, "--key", public).returncode == 0


def test_export_sign_writes_a_bundle_that_is_signed_from_its_first_instant(tmp_path, zoo_models, other_keys):
    pytest.importorskip("tensorflow")
    from edgernn.export import export_bundle

    private, public = other_keys
    out = export_bundle(zoo_models["lstm-single"], tmp_path / "signed", formats=("numpy",), sign_key=private).path
    assert (out / SIGNATURE_FILE).is_file()  # signed in the staging folder, then swapped in
    p = load(out, trusted_keys=[public])
    assert p.predict(np.zeros((1, p.spec.timesteps, p.spec.features), np.float32)).shape[0] == 1
    with pytest.raises(SignatureError):
        load(out, trusted_keys=[SHIPPED_KEY])
