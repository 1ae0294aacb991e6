"""The OCSP responder (RFC 6960) of the CA, answering from the database (CERT-6).

The responses are signed by a *delegated responder*: a certificate the CA issues (through the active
signer, so with the HSM too) for a software key, with the id-kp-OCSPSigning extended key usage and
the id-pkix-ocsp-nocheck extension (clients do not check the responder certificate's own revocation),
valid :data:`RESPONDER_VALIDITY`. The CA key itself signs nothing here: a busy responder never loads
the HSM, and a stolen responder key can only forge OCSP answers until its certificate expires.

The responder key and certificate live in ``cjs.ca.dir``: ``ocsp-responder-key.pem`` (the key, PKCS#8
unencrypted, and its certificate; mode 0600) and ``ocsp-responder.pem`` (the certificate alone, for
operators and ``openssl ocsp -VAfile``). They are made at start when missing, and made again, under an
exclusive ``flock`` shared by every process of the host, when the certificate has less than
:data:`RENEW_BEFORE` left or was not issued by the active CA key (after ``cjs ca rotate``). Each answer
checks this first, so the responder renews itself before it expires.

Answers: one certificate per request (the ``cryptography`` library answers single requests; several
give ``malformedRequest``). The CertID's issuer hashes must be those of the active CA, else
``unauthorized``. A serial number the CA issued is ``good`` unless revoked; ``revoked`` comes with the
revocation time and the reason (none for ``unspecified``); a serial number it never issued is
``unknown``. A nonce in the request is echoed. No nextUpdate: the database is live, newer information
is always available (RFC 6960 section 4.2.2.1).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.db.models import Certificate, CertificateStatus, StaffCertificate, utcnow
from core.pki.files import folder_lock, write_atomically
from core.pki.signers import get_signer
from core.pki.x509 import (
    CLOCK_SKEW,
    authority_key_identifier,
    common_name,
    end_entity_builder,
    key_usage,
    reason_flag,
    subject_public_key_bits,
)

log = logging.getLogger(__name__)

RESPONDER_CERT_FILE = "ocsp-responder.pem"
RESPONDER_KEY_FILE = "ocsp-responder-key.pem"
LOCK_FILE = ".ocsp.lock"
#: Validity of a responder certificate.
RESPONDER_VALIDITY = dt.timedelta(days=30)
#: A responder certificate with less than this left is replaced.
RENEW_BEFORE = dt.timedelta(days=10)
#: Requests larger than this are refused (a single-certificate request is about 100 bytes).
MAX_REQUEST_BYTES = 8192
CONTENT_TYPE_REQUEST = "application/ocsp-request"
CONTENT_TYPE_RESPONSE = "application/ocsp-response"


@dataclass(frozen=True)
class ResponderKey:
    """The delegated responder's key and certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def build_responder_certificate(
    ca_certificate: x509.Certificate, public_key: Any, now: dt.datetime
) -> x509.CertificateBuilder:
    """The builder of a delegated OCSP responder certificate (RFC 6960 section 4.2.2.2)."""
    organisation = ca_certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(organisation[0].value)))
    name = f"{common_name(ca_certificate.subject) or 'CA'} OCSP Responder"
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
    return (
        end_entity_builder(
            ca_certificate,
            x509.Name(attributes),
            public_key,
            not_before=now - CLOCK_SKEW,
            not_after=now + RESPONDER_VALIDITY,
        )
        .add_extension(key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(authority_key_identifier(ca_certificate), critical=False)
    )


def issuer_hashes(
    ca_certificate: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """The CertID issuerNameHash and issuerKeyHash of ``ca_certificate`` with ``algorithm``."""

    def digest(data: bytes) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(data)
        return h.finalize()

    return (
        digest(ca_certificate.subject.public_bytes()),
        digest(subject_public_key_bits(ca_certificate.public_key())),  # type: ignore[arg-type]
    )


def error_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """An unsigned OCSP error response (malformedRequest, internalError, unauthorized…)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def decode_get_path(encoded: str) -> bytes | None:
    """The DER request of an RFC 6960 appendix A GET path: base64, URL-encoded (servers may leave
    ``%2F`` encoded in PATH_INFO, cheroot does; base64 never holds ``%``); url-safe base64 accepted."""
    text = unquote(encoded).strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


class OCSPResponder:
    """Answers OCSP requests for the active CA with the delegated responder key of ``cjs.ca.dir``."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        signer: Callable[[], Any],
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.folder = Path(settings["cjs.ca.dir"])
        self._signer = signer
        self._clock = clock
        self._lock = threading.Lock()
        self._current: ResponderKey | None = None

    # --- the responder key ---

    def _usable(self, responder: ResponderKey | None, now: dt.datetime) -> bool:
        if responder is None:
            return False
        ca_certificate: x509.Certificate = self._signer().ca_certificate
        try:
            responder.certificate.verify_directly_issued_by(ca_certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return responder.certificate.not_valid_after_utc - now >= RENEW_BEFORE

    def _load(self) -> ResponderKey | None:
        try:
            data = (self.folder / RESPONDER_KEY_FILE).read_bytes()
            key = serialization.load_pem_private_key(data, None)
            certificate = x509.load_pem_x509_certificate(data)
        except (OSError, ValueError, TypeError):
            return None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            return None
        if key.public_key() != certificate.public_key():
            return None
        return ResponderKey(key, certificate)

    def _issue(self, now: dt.datetime) -> ResponderKey:
        signer = self._signer()
        key = ec.generate_private_key(ec.SECP256R1())
        builder = build_responder_certificate(signer.ca_certificate, key.public_key(), now)
        certificate: x509.Certificate = signer.sign_certificate(builder)
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomically(self.folder / RESPONDER_KEY_FILE, private + pem, mode=0o600)
        write_atomically(self.folder / RESPONDER_CERT_FILE, pem)
        log.info(
            "OCSP responder certificate issued serial=%x not_after=%s",
            certificate.serial_number,
            certificate.not_valid_after_utc.isoformat(),
        )
        return ResponderKey(key, certificate)

    def responder(self, now: dt.datetime | None = None) -> ResponderKey:
        """The current responder key and certificate, loaded, or issued when missing or expiring."""
        now = now or utcnow()
        current = self._current
        if self._usable(current, now):
            assert current is not None
            return current
        with self._lock, folder_lock(self.folder, LOCK_FILE):
            loaded = self._load()  # another process may have renewed it meanwhile
            if not self._usable(loaded, now):
                loaded = self._issue(now)
            assert loaded is not None
            self._current = loaded
            return loaded

    # --- answering ---

    def respond(self, dbsession: Session, request_der: bytes) -> bytes:
        """The DER OCSP response to the DER request ``request_der``, from ``dbsession``'s rows."""
        if len(request_der) > MAX_REQUEST_BYTES:
            return error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            serial_number = request.serial_number
            name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
        except (ValueError, UnsupportedAlgorithm):
            return error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        ca_certificate: x509.Certificate = self._signer().ca_certificate
        if (name_hash, key_hash) != issuer_hashes(ca_certificate, algorithm):
            return error_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        now = self._clock().astimezone(dt.UTC).replace(microsecond=0)
        try:
            responder = self.responder(utcnow())
        except Exception:
            log.exception("OCSP responder key unavailable")
            return error_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

        serial = format(serial_number, "x")
        row = (
            dbsession.scalars(select(Certificate).where(Certificate.serial == serial)).first()
            or dbsession.scalars(
                select(StaffCertificate).where(StaffCertificate.serial == serial)
            ).first()
        )
        status, revoked_at, reason = self._status(row, ca_certificate)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial_number,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=None,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        builder = builder.responder_id(
            ocsp.OCSPResponderEncoding.HASH, responder.certificate
        ).certificates([responder.certificate])
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
        except x509.ExtensionNotFound:
            pass
        else:
            builder = builder.add_extension(nonce.value, critical=False)
        response = builder.sign(responder.key, hashes.SHA256())
        log.info(
            "OCSP answer serial=%x status=%s",
            serial_number,
            status.name.lower(),
        )
        return response.public_bytes(serialization.Encoding.DER)

    @staticmethod
    def _status(
        row: Certificate | StaffCertificate | None, ca_certificate: x509.Certificate
    ) -> tuple[ocsp.OCSPCertStatus, dt.datetime | None, x509.ReasonFlags | None]:
        if row is None or row.issuer != ca_certificate.subject.rfc4514_string():
            return ocsp.OCSPCertStatus.UNKNOWN, None, None
        if row.status != CertificateStatus.REVOKED:
            return ocsp.OCSPCertStatus.GOOD, None, None
        revoked_at = (row.revoked_at or row.issued_at).astimezone(dt.UTC).replace(microsecond=0)
        # As in the CRL: an unspecified reason is left out.
        return ocsp.OCSPCertStatus.REVOKED, revoked_at, reason_flag(row.revocation_reason)


_RESPONDER = "cjs.pki.ocsp_responder"


def get_responder(registry: Any) -> OCSPResponder:
    """The application's responder."""
    responder: OCSPResponder = registry[_RESPONDER]
    return responder


def includeme(config: Any) -> None:
    """The responder (:func:`get_responder`); its certificate is made (if needed) at start.

    A failure to make it is logged; the first OCSP request tries again (and answers internalError
    while it cannot).
    """
    registry = config.registry
    responder = OCSPResponder(
        config.get_settings(), lambda: get_signer(registry), lambda: clock.now(registry)
    )
    registry[_RESPONDER] = responder
    try:
        responder.responder()
    except Exception as exc:
        log.warning("OCSP responder certificate not ready at start (%s); retried on use", exc)
