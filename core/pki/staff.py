"""The CA's staff profile (#14, AUTH-8, CERT-6): the client certificates of the bank's staff.

A staff certificate is a customer certificate's shape (CERT-2: validity, key usages, EKU
clientAuth, signed by the configured signer, software or PKCS#11) with two marks:

- a ``certificatePolicies`` extension naming ``STAFF_POLICY_OID`` (``core.security.client_cert``: an OID of the UUID arc
  2.25, ITU-T X.667, which needs no registration); customer certificates carry no policy;
- the subject ``OU=CJS staff`` and ``CN=<staff ID>`` (a customer's OU is its contract number).

The staff application accepts only a certificate with the policy that is recorded in
``staff_certificates``; the customer application refuses any certificate with the policy (fail
closed), whatever its tables say. Revocation goes through ``core.pki.certificates.revoke`` like a
customer's, and the CRL lists both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from core import audit
from core.db.models import CertificateStatus, StaffCertificate, StaffMember
from core.pki.certificates import (
    PKCS12_KDF_ROUNDS,
    build_client_certificate,
    pkcs12_bytes,
    pkcs12_filename,
    recorded_columns,
    revoke,
)
from core.pki.x509 import generate_key, random_serial, require_aware
from core.security.client_cert import STAFF_POLICY_OID

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: The subject's organisational unit of every staff certificate.
STAFF_OU = "CJS staff"
#: Staff keys: EC P-256 (the console's browsers are the bank's own, all current).
STAFF_KEY_TYPE = "ec-p256"


def staff_subject(member: StaffMember, ca_certificate: x509.Certificate) -> x509.Name:
    """``C=JP, O=<the CA's organisation>, OU=CJS staff, CN=<staff ID>``."""
    organisation = ca_certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    attributes: list[x509.NameAttribute] = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(organisation[0].value)))
    attributes += [
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, STAFF_OU),
        x509.NameAttribute(NameOID.COMMON_NAME, member.staff_id),
    ]
    return x509.Name(attributes)


@dataclass(frozen=True)
class IssuedStaffCertificate:
    """The new row (added to the session), its PKCS#12 and the file's name."""

    certificate: StaffCertificate
    pkcs12: bytes = field(repr=False)
    filename: str
    superseded: list[StaffCertificate]


def valid_certificates(dbsession: Session, member: StaffMember) -> list[StaffCertificate]:
    """The member's certificates not revoked (expired ones included), oldest first."""
    return list(
        dbsession.scalars(
            select(StaffCertificate)
            .where(
                StaffCertificate.staff_pk == member.id,
                StaffCertificate.status == CertificateStatus.VALID,
            )
            .order_by(StaffCertificate.issued_at, StaffCertificate.id)
        )
    )


def issue_staff_certificate(
    dbsession: Session,
    signer: Any,
    member: StaffMember,
    password: str,
    *,
    now: dt.datetime,
    actor: str,
    request: Any = None,
    kdf_rounds: int = PKCS12_KDF_ROUNDS,
) -> IssuedStaffCertificate:
    """Issue ``member`` a certificate of the staff profile; return it with its PKCS#12.

    A staff member holds one certificate at a time: the ones still valid are revoked as
    ``superseded`` in the same transaction (their CRL follows the commit). ``password`` encrypts the
    PKCS#12 and is used for nothing else. Audited as ``staff.cert.issue``.
    """
    require_aware(now)
    ca_certificate: x509.Certificate = signer.ca_certificate
    key = generate_key(STAFF_KEY_TYPE)
    builder = build_client_certificate(
        ca_certificate,
        key.public_key(),
        staff_subject(member, ca_certificate),
        random_serial(),
        now,
    ).add_extension(
        x509.CertificatePolicies([x509.PolicyInformation(STAFF_POLICY_OID, None)]),
        critical=False,
    )
    issued: x509.Certificate = signer.sign_certificate(builder)
    p12 = pkcs12_bytes(
        key, issued, [ca_certificate], member.staff_id, password, kdf_rounds=kdf_rounds
    )
    del key  # the key leaves only inside the encrypted PKCS#12
    serial = format(issued.serial_number, "x")
    superseded = valid_certificates(dbsession, member)
    for old in superseded:
        revoke(
            dbsession,
            old,
            reason="superseded",
            actor=actor,
            actor_kind="bank",
            now=now,
            request=request,
            message=f"replaced by staff certificate {serial}",
        )
    row = StaffCertificate(staff=member, **recorded_columns(issued, now))
    dbsession.add(row)
    audit.record(
        dbsession,
        "staff.cert.issue",
        actor=actor,
        actor_kind="bank",
        target=member.staff_id,
        request=request,
        details={"serial": serial, "not_after": row.not_after.isoformat()},
    )
    return IssuedStaffCertificate(
        certificate=row,
        pkcs12=p12,
        filename=pkcs12_filename(member.staff_id, now),
        superseded=superseded,
    )
