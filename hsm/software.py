"""The software signer: the CA key in a passphrase-encrypted PKCS#8 file (CERT-1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from zope.interface import implementer

from core.hookspecs import SignerFactory, hookimpl
from core.settings import ConfigurationError
from hsm.ca import CA_CERT_FILE, CA_KEY_FILE, ca_dir
from hsm.interfaces import ISigner


@implementer(ISigner)
class SoftwareSigner:
    """Signs with a CA key held in memory, loaded from its encrypted file at start."""

    name = "software"

    def __init__(self, ca_certificate: x509.Certificate, key: Any) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError("cjs.ca.dir: the CA key is neither RSA nor EC")
        if key.public_key() != ca_certificate.public_key():
            raise ConfigurationError("cjs.ca.dir: the CA key does not match the CA certificate")
        self.ca_certificate = ca_certificate
        self._key = key

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SoftwareSigner:
        """Load the CA certificate and decrypt the key file; one-line errors for each failure."""
        folder = ca_dir(settings)
        cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
        if not cert_path.exists() or not key_path.exists():
            raise ConfigurationError(f"cjs.ca.dir: no CA in {folder} (run 'cjs ca init')")
        passphrase = settings["cjs.ca.key_passphrase"]
        if not passphrase:
            raise ConfigurationError(
                "cjs.ca.key_passphrase: missing (the software CA key needs one)"
            )
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), passphrase.encode())
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"cjs.ca.key_passphrase: cannot decrypt {key_path} with it"
            ) from None
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cls(certificate, key)

    def _hash(self) -> hashes.SHA256 | hashes.SHA384:
        if isinstance(self._key, ec.EllipticCurvePrivateKey) and self._key.key_size >= 384:
            return hashes.SHA384()
        return hashes.SHA256()

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder with the CA key."""
        return builder.sign(self._key, self._hash())

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a CRL builder with the CA key."""
        return builder.sign(self._key, self._hash())

    def describe(self) -> dict[str, str]:
        """Signer, key id, algorithm and CA validity."""
        ski = self.ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            algorithm = f"EC {self._key.curve.name}"
        else:
            algorithm = f"RSA-{self._key.key_size}"
        return {
            "signer": self.name,
            "key id": ski.value.digest.hex(),
            "algorithm": algorithm,
            "subject": self.ca_certificate.subject.rfc4514_string(),
            "not before": self.ca_certificate.not_valid_before_utc.isoformat(),
            "not after": self.ca_certificate.not_valid_after_utc.isoformat(),
        }


@hookimpl
def cjs_signer_factories() -> Mapping[str, SignerFactory]:
    """The software signer, registered under the name ``software``."""
    return {"software": SoftwareSigner.from_settings}
