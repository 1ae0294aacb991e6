"""Client certificates: who may get one (AUTH-4), issuing it (CERT-2, CERT-3), renewal (CERT-4),
replacement of an unused one (CERT-8), first use at login and revocation (CERT-6, BANK-5).

The issuance flow (FLOW-2), the login and the bank's back office call these functions inside their
request's transaction; none of them commits. Times are timezone-aware; the calendar is Japan's.

Rules, as decided here:

- *Held* certificate: status VALID and ``now <= not_after`` (expired or revoked ones do not count).
- *Renewal window* (AUTH-4, CERT-4): a held certificate may be renewed from 00:00:00 JST of the day
  30 days before its expiry day (JST), inclusive, i.e. when ``expiry date − today <= 30`` in Japan's
  calendar. A certificate issued on 2026-11-22 expires 2027-11-22 23:59:59 JST; renewal opens
  2027-10-23 00:00:00 JST. Days, not hours, so that the CERT-5 mail "30 days before expiry" and the
  screen agree for the whole of that day.
- Issuance is allowed when every held certificate is in its renewal window; or, when the bank allows
  CERT-8, when every held certificate outside its window was never used to log in — those are revoked
  as ``superseded`` in the issuing transaction. Renewal keeps the old certificate valid until the new
  one is first used (:func:`record_first_use`) or the old one expires.
- The private key exists only in memory during :func:`issue_certificate` and leaves only inside the
  password-encrypted PKCS#12; it is never stored, logged or audited, nor is the password.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import PBES
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select, update
from sqlalchemy.orm import attributes

from core import audit
from core.db.models import Certificate, CertificateStatus, StaffCertificate, User
from core.i18n import _
from core.pki.crl import note_revocation
from core.pki.x509 import (
    REVOCATION_REASONS,
    PrivateKey,
    authority_key_identifier,
    common_name,
    end_entity_builder,
    generate_key,
    key_usage,
    random_serial,
    require_aware,
    validity,
)
from core.timefmt import JST

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Key types a customer certificate may have (CERT-3); the first is the default.
CLIENT_KEY_TYPES = ("rsa-2048", "rsa-3072", "ec-p256")
DEFAULT_KEY_TYPE = CLIENT_KEY_TYPES[0]

#: AUTH-4 / CERT-4: renewal opens this many (JST calendar) days before the expiry day.
RENEWAL_WINDOW_DAYS = 30
#: PBKDF2-HMAC-SHA256 iterations of the PKCS#12 bags (about 25 ms on this project's machines).
PKCS12_KDF_ROUNDS = 100_000

#: The DC586101 message when issuance is refused (AUTH-4).
ISSUANCE_REFUSED_MESSAGE = _(
    "有効な電子証明書が発行済みのため、発行できません。"
    "有効期限の30日前から更新できます。"
    "パソコンを変更した場合は、書面による電子証明書の失効手続きが必要です。"
)

# X.520 upper bound of an organisation name (RFC 5280 ub-organization-name).
_UB_ORGANIZATION_NAME = 64


class IssuanceRefused(Exception):
    """AUTH-4: the user still holds a certificate that blocks a new one; ``message`` is for DC586101."""

    def __init__(self, message: str = ISSUANCE_REFUSED_MESSAGE) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IssuedCertificate:
    """The outcome of :func:`issue_certificate`.

    ``certificate`` is the new row (added to the session), ``pkcs12`` the file for the browser,
    ``filename`` its download name, ``replaced`` the unused certificates revoked by CERT-8 (the flow
    emails the user about them).
    """

    certificate: Certificate
    pkcs12: bytes = field(repr=False)
    filename: str
    replaced: list[Certificate]


# --- AUTH-4: may the user get a certificate now? -----------------------------------------------


def renewal_opens_at(certificate: Certificate) -> dt.datetime:
    """The instant renewal of ``certificate`` becomes possible: 00:00 JST, 30 days before expiry day."""
    expiry_day = certificate.not_after.astimezone(JST).date()
    opening_day = expiry_day - dt.timedelta(days=RENEWAL_WINDOW_DAYS)
    return dt.datetime.combine(opening_day, dt.time(0, 0), JST)


def is_held(certificate: Certificate, now: dt.datetime) -> bool:
    """Whether ``certificate`` counts as the user's valid certificate: not revoked, not expired."""
    return certificate.status == CertificateStatus.VALID and now <= certificate.not_after


def in_renewal_window(certificate: Certificate, now: dt.datetime) -> bool:
    """Whether a held certificate may be renewed at ``now`` (AUTH-4, CERT-4)."""
    return now >= renewal_opens_at(certificate)


@dataclass(frozen=True)
class _Assessment:
    refusal: str | None
    kind: str  # "new", "renewal" or "replacement"
    replaced: list[Certificate]


def _assess(
    certificates: Iterable[Certificate], now: dt.datetime, *, allow_unused_replacement: bool
) -> _Assessment:
    held = [c for c in certificates if is_held(c, now)]
    blocking = [c for c in held if not in_renewal_window(c, now)]
    if not blocking:
        return _Assessment(None, "renewal" if held else "new", [])
    if allow_unused_replacement and all(c.first_used_at is None for c in blocking):
        return _Assessment(None, "replacement", blocking)
    return _Assessment(ISSUANCE_REFUSED_MESSAGE, "refused", [])


def issuance_refusal(user: User, now: dt.datetime, *, allow_unused_replacement: bool) -> str | None:
    """AUTH-4 at DC586101: None when ``user`` may be issued a certificate now, else the message.

    Allowed when the user holds no valid unexpired certificate, when every one it holds is in its
    renewal window, or (CERT-8, ``allow_unused_replacement``) when those outside the window were
    never used to log in.
    """
    require_aware(now)
    return _assess(
        user.certificates, now, allow_unused_replacement=allow_unused_replacement
    ).refusal


# --- CERT-2 / CERT-3: the certificate and the PKCS#12 -------------------------------------------


def client_subject(user: User) -> x509.Name:
    """CERT-2: CN is the user ID (the picker shows it); OU the contract number; O the organisation."""
    contract = user.contract
    organisation = contract.organisation_name.strip()[:_UB_ORGANIZATION_NAME]
    attributes_: list[x509.NameAttribute] = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if organisation:
        # UTF8String (cryptography's default for O), so Japanese names survive intact.
        attributes_.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attributes_ += [
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, contract.contract_no),
        x509.NameAttribute(NameOID.COMMON_NAME, user.user_id),
    ]
    return x509.Name(attributes_)


def build_client_certificate(
    ca_certificate: x509.Certificate,
    public_key: Any,
    subject: x509.Name,
    serial: int,
    now: dt.datetime,
) -> x509.CertificateBuilder:
    """The builder of a customer's TLS client certificate (CERT-2), to be signed by the CA signer."""
    not_before, not_after = validity(now)
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return (
        end_entity_builder(
            ca_certificate,
            subject,
            public_key,
            serial=serial,
            not_before=not_before,
            not_after=not_after,
        )
        .add_extension(key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(authority_key_identifier(ca_certificate), critical=False)
    )


def pkcs12_bytes(
    key: PrivateKey,
    certificate: x509.Certificate,
    ca_chain: Sequence[x509.Certificate],
    friendly_name: str,
    password: str,
    *,
    kdf_rounds: int = PKCS12_KDF_ROUNDS,
) -> bytes:
    """CERT-3: key, certificate and CA chain in a PKCS#12 file encrypted with ``password``.

    PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with an HMAC-SHA256 MAC: read by OpenSSL 3 without
    ``-legacy`` and by Windows 10 1709+ / current macOS and browsers. The algorithm is spelled out,
    not ``BestAvailableEncryption``, which may change between cryptography versions.
    """
    if not password:
        raise ValueError("the PKCS#12 password must not be empty")
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(kdf_rounds)
        .key_cert_algorithm(PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode("utf-8"))
    )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), key, certificate, list(ca_chain), encryption
    )


def pkcs12_filename(user_id: str, now: dt.datetime) -> str:
    """CERT-3: ``<userID><YYYYMMDDhhmmss>.p12``, the time in Japan."""
    return f"{user_id}{now.astimezone(JST):%Y%m%d%H%M%S}.p12"


def _lock_user(dbsession: Session, user: User) -> None:
    # Serialises issuances for one user on PostgreSQL (a double-click on 発行 must not give two
    # certificates). SQLite renders no FOR UPDATE and needs none: every transaction there begins
    # with BEGIN IMMEDIATE, the database's write lock (core.db).
    if dbsession.get_bind().dialect.name == "sqlite":
        return
    dbsession.execute(select(User.id).where(User.id == user.id).with_for_update())


def _valid_certificates_of(dbsession: Session, user_pk: int) -> list[Certificate]:
    return list(
        dbsession.scalars(
            select(Certificate)
            .where(
                Certificate.user_pk == user_pk,
                Certificate.status == CertificateStatus.VALID,
            )
            .order_by(Certificate.issued_at, Certificate.id)
            .execution_options(populate_existing=True)
        )
    )


def recorded_columns(issued: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    """The columns a newly issued certificate is recorded with (a customer's or a staff
    member's): serial, issuer, subject, SHA-256 fingerprint, validity, status VALID, ``now``."""
    return {
        "serial": format(issued.serial_number, "x"),
        "issuer": issued.issuer.rfc4514_string(),
        "subject": issued.subject.rfc4514_string(),
        "fingerprint_sha256": issued.fingerprint(hashes.SHA256()).hex(),
        "not_before": issued.not_valid_before_utc,
        "not_after": issued.not_valid_after_utc,
        "status": CertificateStatus.VALID,
        "issued_at": now,
    }


def issue_certificate(
    dbsession: Session,
    signer: Any,
    user: User,
    password: str,
    *,
    key_type: str = DEFAULT_KEY_TYPE,
    now: dt.datetime,
    actor: str,
    request: Any = None,
    allow_unused_replacement: bool = True,
    kdf_rounds: int = PKCS12_KDF_ROUNDS,
) -> IssuedCertificate:
    """Issue ``user`` a client certificate and return it with its PKCS#12 (FLOW-2, CERT-2/3/4/8).

    AUTH-4 is checked again here, under a lock on the user's row, with the current rows: a refusal
    raises :class:`IssuanceRefused` (pass the same ``allow_unused_replacement`` as to
    :func:`issuance_refusal`; it is the bank's CERT-8 setting). ``password`` encrypts the PKCS#12
    (the user's current login password) and is used for nothing else. CERT-8: the unused
    certificates this issue replaces are revoked as ``superseded`` and returned in ``replaced``;
    a renewal (CERT-4) leaves the old certificate valid. Audited as ``cert.issue``.
    """
    require_aware(now)
    if key_type not in CLIENT_KEY_TYPES:
        raise ValueError(f"key_type must be one of {', '.join(CLIENT_KEY_TYPES)}, got {key_type!r}")
    if not password:
        raise ValueError("the PKCS#12 password must not be empty")

    _lock_user(dbsession, user)
    assessment = _assess(
        _valid_certificates_of(dbsession, user.id),
        now,
        allow_unused_replacement=allow_unused_replacement,
    )
    if assessment.refusal is not None:
        raise IssuanceRefused(assessment.refusal)

    ca_certificate: x509.Certificate = signer.ca_certificate
    key = generate_key(key_type)
    builder = build_client_certificate(
        ca_certificate, key.public_key(), client_subject(user), random_serial(), now
    )
    issued: x509.Certificate = signer.sign_certificate(builder)
    p12 = pkcs12_bytes(key, issued, [ca_certificate], user.user_id, password, kdf_rounds=kdf_rounds)
    del key  # drop our only reference: the key leaves only inside the encrypted PKCS#12

    serial = format(issued.serial_number, "x")
    for old in assessment.replaced:
        revoke(
            dbsession,
            old,
            reason="superseded",
            actor=actor,
            now=now,
            request=request,
            message=f"CERT-8: replaced before first use by certificate {serial}",
        )
    row = Certificate(user=user, **recorded_columns(issued, now))
    dbsession.add(row)
    audit.record(
        dbsession,
        "cert.issue",
        actor=actor,
        target=user.user_id,
        contract_no=user.contract.contract_no,
        request=request,
        details={
            "serial": serial,
            "kind": assessment.kind,
            "key_type": key_type,
            "not_after": row.not_after.isoformat(),
            "replaced": [c.serial for c in assessment.replaced],
        },
    )
    return IssuedCertificate(
        certificate=row,
        pkcs12=p12,
        filename=pkcs12_filename(user.user_id, now),
        replaced=list(assessment.replaced),
    )


# --- Login and revocation -----------------------------------------------------------------------


def record_first_use(
    dbsession: Session, certificate: Certificate, now: dt.datetime, actor: str
) -> list[Certificate]:
    """At login with ``certificate``: mark its first use; CERT-4: supersede the user's older ones.

    ``first_used_at`` is set once. The user's other VALID certificates issued before this one are
    revoked as ``superseded`` (checked at every login, so an interrupted first use heals itself);
    newer ones are left alone. Returns the certificates revoked now. A certificate that is no longer
    valid (revoked meanwhile) changes nothing.
    """
    require_aware(now)
    if certificate.status != CertificateStatus.VALID:
        return []
    if certificate.first_used_at is None:
        certificate.first_used_at = now
    older = [
        c
        for c in _valid_certificates_of(dbsession, certificate.user_pk)
        if c.id != certificate.id and c.issued_at < certificate.issued_at
    ]
    revoked = []
    for old in older:
        if revoke(
            dbsession,
            old,
            reason="superseded",
            actor=actor,
            now=now,
            message=f"CERT-4: superseded at the first use of certificate {certificate.serial}",
        ):
            revoked.append(old)
    return revoked


def revoke(
    dbsession: Session,
    certificate: Certificate | StaffCertificate,
    *,
    reason: str,
    actor: str,
    actor_kind: str = "user",
    now: dt.datetime,
    request: Any = None,
    message: str | None = None,
) -> bool:
    """Revoke ``certificate`` with an RFC 5280 ``reason``; False when it was already revoked.

    The one place a certificate is revoked (customer flows, CERT-4/8, bank staff BANK-4/5, user
    deletion, staff certificates of the CA's staff profile): it flags the transaction, and the CRL (CERT-6) is published once it commits
    (``core.pki.crl``; nothing on rollback). The status changes with a conditional UPDATE, so
    two concurrent revocations revoke and audit once. A session logged in with the certificate ends
    at its next request (``core.security.policy`` re-checks the certificate every time). Audited as
    ``cert.revoke``.
    """
    require_aware(now)
    if reason not in REVOCATION_REASONS:
        raise ValueError(
            f"reason must be one of {', '.join(REVOCATION_REASONS)} (RFC 5280), got {reason!r}"
        )
    dbsession.flush()
    model = type(certificate)
    result = dbsession.execute(
        update(model)
        .where(model.id == certificate.id, model.status == CertificateStatus.VALID)
        .values(status=CertificateStatus.REVOKED, revoked_at=now, revocation_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        dbsession.refresh(certificate)
        return False
    attributes.set_committed_value(certificate, "status", CertificateStatus.REVOKED.value)
    attributes.set_committed_value(certificate, "revoked_at", now.astimezone(dt.UTC))
    attributes.set_committed_value(certificate, "revocation_reason", reason)
    note_revocation(dbsession)
    audit.record(
        dbsession,
        "cert.revoke",
        actor=actor,
        actor_kind=actor_kind,
        target=certificate.holder_id,
        contract_no=certificate.contract_no,
        request=request,
        details={"serial": certificate.serial, "reason": reason},
        message=message,
    )
    return True


# --- Display ------------------------------------------------------------------------------------


def _common_name(rfc4514: str) -> str:
    try:
        return common_name(x509.Name.from_rfc4514_string(rfc4514))
    except ValueError:
        return ""


def certificate_summary(certificate: Certificate) -> dict[str, Any]:
    """What the result screen (電子証明書発行結果) shows about a certificate, times in Japan."""
    not_before = certificate.not_before.astimezone(JST)
    not_after = certificate.not_after.astimezone(JST)
    serial = certificate.serial.upper()
    serial = serial.rjust(len(serial) + len(serial) % 2, "0")
    return {
        "serial": certificate.serial,
        "serial_display": ":".join(serial[i : i + 2] for i in range(0, len(serial), 2)),
        "common_name": _common_name(certificate.subject),
        "issuer_common_name": _common_name(certificate.issuer),
        "not_before": not_before,
        "not_after": not_after,
        "not_before_text": f"{not_before:%Y/%m/%d %H:%M:%S}",
        "not_after_text": f"{not_after:%Y/%m/%d %H:%M:%S}",
        "status": certificate.status,
    }
