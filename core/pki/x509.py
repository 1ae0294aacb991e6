"""The X.509 profile of the service's CA (CERT-1, CERT-2, CERT-6): key types, the CA's name, serial
numbers, validity, key identifiers, extensions and revocation reasons.

A leaf of ``core.pki``: it imports only ``cryptography``, the standard library and core's leaves
(``core.settings``, ``core.hours``), so that the signers (``hsm``), the certificates, the CRL, the OCSP
responder and the CA commands share one profile without importing each other.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from core.timefmt import JST

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

#: The CA certificate in ``cjs.ca.dir``; every signer signs for the certificate in this file.
CA_CERT_FILE = "ca.pem"
#: Validity of a CA certificate made by ``cjs ca init`` or ``cjs ca rotate``.
CA_VALIDITY = dt.timedelta(days=3653)
#: CERT-2: a customer certificate runs until 23:59:59 JST of the issue date (JST) plus this many days.
VALIDITY_DAYS = 365
#: notBefore of the CA's own certificates (CA, OCSP responder, TLS server) is this far in the past,
#: so that a relying party whose clock is a little behind accepts them at once.
CLOCK_SKEW = dt.timedelta(minutes=5)

#: RFC 5280 CRLReason names a certificate may be revoked with, and their CRL entry value.
#: certificateHold (suspension), removeFromCRL and the CA/AA compromise reasons are not offered.
REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}


# --- Keys, names, serial numbers ----------------------------------------------------------------


def generate_key(key_type: str) -> PrivateKey:
    """Generate a private key: ``ec-p256``, ``ec-p384``, ``rsa-2048`` or ``rsa-3072``."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in {"rsa-2048", "rsa-3072"}:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    raise ValueError(f"unknown key type {key_type!r}")


def key_algorithm(key: PrivateKey | PublicKey) -> str:
    """``EC secp384r1`` or ``RSA-3072``: the algorithm of a key as ``cjs ca show`` prints it."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return f"RSA-{key.key_size}"


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """The hash of the CA's signatures: SHA-384 for an EC key of 384 bits or more, else SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def random_serial() -> int:
    """A positive 127-bit serial number from the CSPRNG (RFC 5280: at most 20 octets)."""
    return secrets.randbits(127) | 1


def common_name(name: x509.Name) -> str:
    """The first common name (CN) of ``name``, or "" when it has none."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def ca_dir(settings: Mapping[str, Any]) -> Path:
    """The CA folder (``cjs.ca.dir``): the CA certificate and what the CA commands keep with it."""
    return Path(settings["cjs.ca.dir"])


def ca_name(settings: Mapping[str, Any]) -> x509.Name:
    """The CA's distinguished name from the settings (CERT-1: "Rokin-KW CA" style)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings["cjs.ca.organization"]),
            x509.NameAttribute(NameOID.COMMON_NAME, settings["cjs.ca.issuer_name"]),
        ]
    )


def describe_ca(ca_certificate: x509.Certificate) -> dict[str, str]:
    """The CA certificate's printable facts every signer's ``describe()`` ends with."""
    return {
        "subject": ca_certificate.subject.rfc4514_string(),
        "not before": ca_certificate.not_valid_before_utc.isoformat(),
        "not after": ca_certificate.not_valid_after_utc.isoformat(),
    }


# --- Validity -----------------------------------------------------------------------------------


def require_aware(now: dt.datetime) -> None:
    """Refuse a naive datetime (every time in the PKI is timezone-aware)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime given; use timezone-aware times")


def validity(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """CERT-2: ``now`` until 23:59:59 JST of (the JST issue date + 365 days), 366 days counted."""
    require_aware(now)
    last_day = now.astimezone(JST).date() + dt.timedelta(days=VALIDITY_DAYS)
    return now, dt.datetime.combine(last_day, dt.time(23, 59, 59), JST)


# --- Key identifiers ----------------------------------------------------------------------------


def key_identifier(certificate: x509.Certificate) -> bytes:
    """The certificate's key identifier: its subjectKeyIdentifier, else the RFC 5280 SHA-1 of its key."""
    try:
        return certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def authority_key_identifier(ca_certificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The authorityKeyIdentifier of what ``ca_certificate`` signs: its key identifier alone."""
    return x509.AuthorityKeyIdentifier(key_identifier(ca_certificate), None, None)


def subject_public_key_bits(public_key: PublicKey) -> bytes:
    """The subjectPublicKey BIT STRING's value (what key identifiers and OCSP's issuerKeyHash hash)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def header(data: bytes, at: int) -> tuple[int, int]:
        """(offset of the content, its length) of the TLV at ``at``."""
        length = data[at + 1]
        if length < 0x80:
            return at + 2, length
        octets = length & 0x7F
        return at + 2 + octets, int.from_bytes(data[at + 2 : at + 2 + octets], "big")

    body, _ = header(der, 0)  # SubjectPublicKeyInfo SEQUENCE
    algorithm_start, algorithm_length = header(der, body)  # AlgorithmIdentifier
    bits_start, bits_length = header(der, algorithm_start + algorithm_length)  # BIT STRING
    return der[bits_start + 1 : bits_start + bits_length]  # without the unused-bits octet


# --- Extensions and builders --------------------------------------------------------------------


def key_usage(
    *,
    digital_signature: bool = True,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A keyUsage extension with the usages the CA's certificates need; every other bit clear."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def build_ca_certificate(
    settings: Mapping[str, Any], public_key: PublicKey, now: dt.datetime | None = None
) -> x509.CertificateBuilder:
    """A builder for the self-signed CA certificate of ``public_key`` (``cjs ca init`` / ``rotate``)."""
    now = now or dt.datetime.now(dt.UTC)
    name = ca_name(settings)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )


def end_entity_builder(
    ca_certificate: x509.Certificate,
    subject: x509.Name,
    public_key: PublicKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
) -> x509.CertificateBuilder:
    """A builder of a certificate the CA issues to an end entity (not a CA): names, key, serial
    (random unless given), validity and a critical basicConstraints ``CA:FALSE``; the caller adds
    the usages, then :func:`authority_key_identifier` last."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(random_serial() if serial is None else serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


# --- Revocation ---------------------------------------------------------------------------------


def reason_flag(reason: str | None) -> x509.ReasonFlags | None:
    """The reasonCode a CRL entry or an OCSP answer carries for a revocation reason name.

    None for ``unspecified`` (RFC 5280 5.3.1: it SHOULD be absent rather than present), for no
    reason and for a name outside :data:`REVOCATION_REASONS`.
    """
    flag = REVOCATION_REASONS.get(reason or "unspecified")
    return None if flag in (None, x509.ReasonFlags.unspecified) else flag
