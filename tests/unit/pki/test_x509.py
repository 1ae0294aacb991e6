"""The X.509 profile (core.pki.x509) that certificates, CRL, OCSP, the CA commands and the signers share."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from core.pki.x509 import (
    authority_key_identifier,
    generate_key,
    key_identifier,
    reason_flag,
    subject_public_key_bits,
)


def ca_without_key_identifiers(key_type: str) -> x509.Certificate:
    """A CA certificate as another tool may make it: no subjectKeyIdentifier extension."""
    key = generate_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other CA")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048"])
def test_without_a_subject_key_identifier_the_key_id_is_rfc5280s_sha1_of_the_key_bits(key_type):
    """The fallback key id, and the key bits OCSP's issuerKeyHash hashes, agree with cryptography's."""
    ca = ca_without_key_identifiers(key_type)
    bits = subject_public_key_bits(ca.public_key())
    expected = x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    assert hashlib.sha1(bits).digest() == expected  # noqa: S324 (RFC 5280 method 1)
    assert key_identifier(ca) == expected
    assert authority_key_identifier(ca).key_identifier == expected


def test_revocation_reasons_as_crl_entries_and_ocsp_answers_carry_them():
    assert reason_flag("keyCompromise") == x509.ReasonFlags.key_compromise
    assert reason_flag("superseded") == x509.ReasonFlags.superseded
    # RFC 5280 5.3.1: no reasonCode rather than unspecified; nothing for an unknown name.
    assert reason_flag("unspecified") is None
    assert reason_flag(None) is None
    assert reason_flag("certificateHold") is None
