"""The PKCS#11 signer (``ISigner``): signs certificates and CRLs with the CA key on the token."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pkcs11 import exceptions as p11e
from zope.interface import implementer

from core.pki.x509 import (
    CA_CERT_FILE,
    ca_dir,
    describe_ca,
    key_algorithm,
    key_identifier,
    signature_hash,
)
from core.settings import ConfigurationError
from hsm.interfaces import ISigner, SignerUnavailable
from hsm.pkcs11.config import PREFIX, Pkcs11Config, read_config
from hsm.pkcs11.errors import MechanismNotSupported
from hsm.pkcs11.keys import (
    TokenECKey,
    TokenKey,
    TokenRSAKey,
    check_mechanism,
    open_key,
    rsa_padding_for,
)
from hsm.pkcs11.session import connect, start_error

log = logging.getLogger(__name__)


@implementer(ISigner)
class Pkcs11Signer:
    """Signs certificates and CRLs with the CA key on a PKCS#11 token."""

    name = "pkcs11"

    def __init__(
        self,
        ca_certificate: x509.Certificate,
        key: TokenKey,
        *,
        config: Pkcs11Config,
    ) -> None:
        if key.public_key() != ca_certificate.public_key():
            raise ConfigurationError(
                f"{PREFIX}key_label: key {config.key_label!r} does not match the CA certificate"
            )
        self.ca_certificate = ca_certificate
        self.key = key
        self.config = config
        self._hash = signature_hash(key)
        self._padding = (
            rsa_padding_for(config.rsa_padding) if isinstance(key, TokenRSAKey) else None
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Pkcs11Signer:
        """Connect, find the key, check it against ``ca.pem`` with a signature; one-line errors."""
        config = read_config(settings)
        cert_path = ca_dir(settings) / CA_CERT_FILE
        if not cert_path.exists():
            raise ConfigurationError(f"cjs.ca.dir: no CA in {cert_path.parent} (run 'cjs ca init')")
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ConfigurationError(f"cjs.ca.dir: the CA key of {cert_path} is neither RSA nor EC")
        return cls.for_certificate(config, certificate, cert_path)

    @classmethod
    def for_certificate(
        cls, config: Pkcs11Config, certificate: x509.Certificate, cert_path: Path
    ) -> Pkcs11Signer:
        """The signer of ``certificate`` with key ``config.key_label``, checked by a signature."""
        token = connect(config)
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        key = open_key(config, token, public, cert_path)
        check_mechanism(config, token, key)
        signer = cls(certificate, key, config=config)
        signer.self_test(cert_path)
        log.info(
            "CA signer pkcs11: module %s, token %r, key %r (%s), CA key id %s",
            config.module,
            config.token_label,
            config.key_label,
            signer.algorithm,
            signer.key_id,
        )
        return signer

    def self_test(self, cert_path: Path) -> None:
        """Sign a fixed message on the token and verify it with the CA certificate's public key."""
        message = b"CJS PKCS#11 signer self-test"
        try:
            if isinstance(self.key, TokenRSAKey):
                assert self._padding is not None
                signature = self.key.sign(message, self._padding, self._hash)
                public_rsa = self.ca_certificate.public_key()
                assert isinstance(public_rsa, rsa.RSAPublicKey)
                public_rsa.verify(signature, message, self._padding, self._hash)
            else:
                signature = self.key.sign(message, ec.ECDSA(self._hash))
                public_ec = self.ca_certificate.public_key()
                assert isinstance(public_ec, ec.EllipticCurvePublicKey)
                public_ec.verify(signature, message, ec.ECDSA(self._hash))
        except MechanismNotSupported as exc:
            raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
        except SignerUnavailable as exc:
            cause = exc.__context__
            if isinstance(cause, p11e.PKCS11Error):
                raise start_error(self.config, self.key.ref.token, cause) from None
            raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
        except InvalidSignature:
            raise ConfigurationError(
                f"{PREFIX}key_label: key {self.config.key_label!r} on token "
                f"{self.config.token_label!r} does not match the CA certificate {cert_path}"
            ) from None

    @property
    def key_id(self) -> str:
        """The CA certificate's key identifier, hex (also CKA_ID of keys made by CJS)."""
        return key_identifier(self.ca_certificate).hex()

    @property
    def algorithm(self) -> str:
        """``EC secp384r1`` or ``RSA-3072``, as the software signer says it."""
        return key_algorithm(self.key)

    @property
    def signature_algorithm(self) -> str:
        """The scheme of the CA's signatures, e.g. ``ECDSA with SHA-384``."""
        if isinstance(self.key, TokenECKey):
            return f"ECDSA with SHA-{self._hash.digest_size * 8}"
        scheme = "RSASSA-PSS" if isinstance(self._padding, padding.PSS) else "PKCS#1 v1.5"
        return f"{scheme} with SHA-{self._hash.digest_size * 8}"

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder on the token (only the to-be-signed bytes go to it)."""
        return builder.sign(self.key, self._hash, rsa_padding=self._padding)

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a CRL builder on the token."""
        return builder.sign(self.key, self._hash, rsa_padding=self._padding)

    def describe(self) -> dict[str, str]:
        """Signer, key id, algorithm, CA validity, and where the key is."""
        return {
            "signer": self.name,
            "key id": self.key_id,
            "algorithm": self.algorithm,
            "signature": self.signature_algorithm,
            "module": self.config.module,
            "token": self.config.token_label,
            "key label": self.config.key_label,
            **describe_ca(self.ca_certificate),
        }
