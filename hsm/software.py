"""The software signer: the CA key in a passphrase-encrypted PKCS#8 file (CERT-1).

Chosen with ``cjs.ca.signer = software``. The key is ``ca-key.pem`` in ``cjs.ca.dir``, encrypted with
``cjs.ca.key_passphrase``; ``cjs ca init`` makes it (type ``cjs.ca.key_type``), ``cjs ca rotate`` keeps
the retired one as ``ca-key-previous-<UTC stamp>.pem`` (same passphrase), so that the previous CA can
still sign its CRLs during the cross-over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from zope.interface import implementer

from core.hookspecs import NewCAKey, RetiredKey, SignerFactory, hookimpl
from core.pki.x509 import (
    CA_CERT_FILE,
    PrivateKey,
    build_ca_certificate,
    ca_dir,
    describe_ca,
    generate_key,
    key_algorithm,
    key_identifier,
    signature_hash,
)
from core.settings import ConfigurationError
from hsm.interfaces import ISigner

NAME = "software"
#: The active CA's key in ``cjs.ca.dir``.
CA_KEY_FILE = "ca-key.pem"
#: ``ca-key-previous-<UTC stamp>.pem``: the key of a CA retired by ``cjs ca rotate``.
PREVIOUS_KEY_PREFIX = "ca-key-previous-"


@implementer(ISigner)
class SoftwareSigner:
    """Signs with a CA key held in memory, loaded from its encrypted file at start."""

    name = NAME

    def __init__(self, ca_certificate: x509.Certificate, key: Any) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError("cjs.ca.dir: the CA key is neither RSA nor EC")
        if key.public_key() != ca_certificate.public_key():
            raise ConfigurationError("cjs.ca.dir: the CA key does not match the CA certificate")
        self.ca_certificate = ca_certificate
        self._key: PrivateKey = key

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SoftwareSigner:
        """Load the CA certificate and decrypt the key file; one-line errors for each failure."""
        folder = ca_dir(settings)
        cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
        if not cert_path.exists() or not key_path.exists():
            raise ConfigurationError(f"cjs.ca.dir: no CA in {folder} (run 'cjs ca init')")
        key = _load_key(key_path, _passphrase(settings))
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cls(certificate, key)

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder with the CA key."""
        return builder.sign(self._key, signature_hash(self._key))

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a CRL builder with the CA key."""
        return builder.sign(self._key, signature_hash(self._key))

    def describe(self) -> dict[str, str]:
        """Signer, key id, algorithm and CA validity."""
        return {
            "signer": self.name,
            "key id": key_identifier(self.ca_certificate).hex(),
            "algorithm": key_algorithm(self._key),
            **describe_ca(self.ca_certificate),
        }


def _passphrase(settings: Mapping[str, Any]) -> str:
    passphrase = str(settings["cjs.ca.key_passphrase"] or "")
    if not passphrase:
        raise ConfigurationError("cjs.ca.key_passphrase: missing (the software CA key needs one)")
    return passphrase


def _load_key(path: Path, passphrase: str) -> Any:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), passphrase.encode())
    except (ValueError, TypeError):
        raise ConfigurationError(f"cjs.ca.key_passphrase: cannot decrypt {path} with it") from None


@hookimpl
def cjs_signer_factories() -> Mapping[str, SignerFactory]:
    """The software signer, registered under the name ``software``."""
    return {NAME: SoftwareSigner.from_settings}


@hookimpl
def cjs_signer_has_ca_key(
    signer: str, settings: Mapping[str, Any], ca_certificate: x509.Certificate
) -> bool | None:
    """The CA is kept when its key file is there (the passphrase must be set in any case)."""
    if signer != NAME:
        return None
    _passphrase(settings)
    return (ca_dir(settings) / CA_KEY_FILE).exists()


@hookimpl
def cjs_signer_new_ca_key(
    signer: str, settings: Mapping[str, Any], now: dt.datetime
) -> NewCAKey | None:
    """A new key of ``cjs.ca.key_type``, encrypted with the passphrase, for ``ca-key.pem``."""
    if signer != NAME:
        return None
    passphrase = _passphrase(settings)
    key = generate_key(settings["cjs.ca.key_type"])
    certificate = build_ca_certificate(settings, key.public_key(), now).sign(key, hashes.SHA384())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    return NewCAKey(certificate, CA_KEY_FILE, {CA_KEY_FILE: encrypted})


@hookimpl
def cjs_signer_retire_ca_key(settings: Mapping[str, Any], stamp: str) -> RetiredKey | None:
    """A key file in the CA folder is the retired CA's: kept as ``ca-key-previous-<stamp>.pem``."""
    if not (ca_dir(settings) / CA_KEY_FILE).exists():
        return None
    kept = f"{PREVIOUS_KEY_PREFIX}{stamp}.pem"
    return RetiredKey(NAME, kept, {CA_KEY_FILE: kept})


@hookimpl
def cjs_signer_previous_ca(
    signer: str, key: str, settings: Mapping[str, Any], ca_certificate: x509.Certificate
) -> SoftwareSigner | None:
    """The previous CA's key file, decrypted with the passphrase; None when the file is gone."""
    if signer != NAME:
        return None
    key_file = ca_dir(settings) / key
    if not key_file.exists():
        return None
    return SoftwareSigner(ca_certificate, _load_key(key_file, _passphrase(settings)))
