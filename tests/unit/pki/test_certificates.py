"""The certificate service: AUTH-4 (who may get one), CERT-2 (what it says), CERT-3 (PKCS#12),
CERT-4 (renewal, superseded at first use), CERT-8 (an unused one replaced), revocation.

Times are fixed: a certificate issued 2026-11-22 10:00 JST expires 2027-11-22 23:59:59 JST and may be
renewed from 2027-10-23 00:00 JST.
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from core.db.models import AuditEvent, Certificate, CertificateStatus, Contract, ContractKind, User
from core.pki import certificates
from core.pki.certificates import (
    ISSUANCE_REFUSED_MESSAGE,
    IssuanceRefused,
    certificate_summary,
    issuance_refusal,
    issue_certificate,
    record_first_use,
    revoke,
)
from core.pki.signers import load_signer
from core.pki.x509 import REVOCATION_REASONS, validity
from core.settings import validate
from core.timefmt import JST

PASSWORD = "Passw0rd!x"
ORGANISATION = "ろうきん労働組合"
ISSUED = dt.datetime(2026, 11, 22, 10, 0, tzinfo=JST)
EXPIRES = dt.datetime(2027, 11, 22, 23, 59, 59, tzinfo=JST)
RENEWAL_OPENS = dt.datetime(2027, 10, 23, 0, 0, tzinfo=JST)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture(scope="module")
def signer(ca_settings: dict[str, str]) -> Any:
    return load_signer(
        validate({**ca_settings, "sqlalchemy.url": "sqlite://", "cjs.environment": "development"})
    )


def _user(dbsession: Session, user_id: str = "master01", contract_no: str = "00012345") -> User:
    contract = Contract(
        contract_no=contract_no,
        kind=ContractKind.MEMBER,
        organisation_name=ORGANISATION,
        initial_password_hash="$argon2id$placeholder",
    )
    user = User(
        contract=contract,
        user_id=user_id,
        role="master",
        name="労金　五郎",
        email="goro@example.jp",
        password_hash="$argon2id$placeholder",
    )
    dbsession.add(user)
    dbsession.flush()
    return user


def _issue(dbsession: Session, signer: Any, user: User, now: dt.datetime = ISSUED, **kw: Any):
    kw.setdefault("key_type", "ec-p256")
    issued = issue_certificate(dbsession, signer, user, PASSWORD, now=now, actor=user.user_id, **kw)
    dbsession.commit()
    return issued


def _load(issued: Any) -> tuple[Any, x509.Certificate, list[x509.Certificate]]:
    key, cert, chain = pkcs12.load_key_and_certificates(issued.pkcs12, PASSWORD.encode())
    assert key is not None and cert is not None
    return key, cert, chain


def _openssl(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)


# --- CERT-3: the PKCS#12 file ------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["rsa-2048", "rsa-3072", "ec-p256"])
def test_pkcs12_opens_in_openssl_3_without_legacy_with_pbes2_aes256(
    dbsession, signer, tmp_path, key_type
):
    """CERT-3: PBES2 / PBKDF2-SHA256 / AES-256-CBC with an HMAC-SHA256 MAC; key, cert and CA chain."""
    issued = _issue(dbsession, signer, _user(dbsession), key_type=key_type)
    path = tmp_path / issued.filename
    path.write_bytes(issued.pkcs12)

    result = _openssl("pkcs12", "-info", "-in", path, "-passin", f"pass:{PASSWORD}", "-noout")

    assert result.returncode == 0, result.stderr
    info = result.stdout + result.stderr
    assert "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC" in info
    assert "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC" in info
    assert "PRF hmacWithSHA256" in info
    assert "MAC: sha256" in info
    assert info.count("Certificate bag") == 2  # the user's certificate and the CA


@pytest.mark.parametrize(
    ("key_type", "algorithm", "size"),
    [
        ("rsa-2048", rsa.RSAPrivateKey, 2048),
        ("rsa-3072", rsa.RSAPrivateKey, 3072),
        ("ec-p256", ec.EllipticCurvePrivateKey, 256),
    ],
)
def test_each_key_type_gives_that_key_matching_the_certificate(
    dbsession, signer, key_type, algorithm, size
):
    """CERT-3: the server generates the key pair of the configured type (RSA-2048 by default)."""
    issued = _issue(dbsession, signer, _user(dbsession), key_type=key_type)
    key, cert, chain = _load(issued)

    assert isinstance(key, algorithm)
    assert key.key_size == size
    assert key.public_key() == cert.public_key()
    assert chain == [signer.ca_certificate]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment == key_type.startswith("rsa")


def test_the_default_key_type_is_rsa_2048(dbsession, signer):
    user = _user(dbsession)
    issued = issue_certificate(dbsession, signer, user, PASSWORD, now=ISSUED, actor="master01")
    key, _, _ = _load(issued)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048


def test_the_pkcs12_password_is_the_one_given(dbsession, signer):
    """CERT-3: encrypted with the user's login password; another password does not open it."""
    issued = _issue(dbsession, signer, _user(dbsession))
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(issued.pkcs12, b"Wrong0rd!x")
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(issued.pkcs12, None)
    loaded = pkcs12.load_pkcs12(issued.pkcs12, PASSWORD.encode())
    assert loaded.key is not None
    assert loaded.cert is not None and loaded.cert.friendly_name == b"master01"


def test_an_openssl_wrong_password_is_refused(dbsession, signer, tmp_path):
    issued = _issue(dbsession, signer, _user(dbsession))
    path = tmp_path / "f.p12"
    path.write_bytes(issued.pkcs12)
    result = _openssl("pkcs12", "-info", "-in", path, "-passin", "pass:Wrong0rd!x", "-noout")
    assert result.returncode != 0


def test_the_file_name_is_user_id_and_japan_time(dbsession, signer):
    """CERT-3: <userID><YYYYMMDDhhmmss>.p12, in Japan time even when UTC is still the day before."""
    user = _user(dbsession)
    early = dt.datetime(2026, 11, 23, 0, 30, 5, tzinfo=JST)  # 2026-11-22 15:30:05 UTC
    issued = _issue(dbsession, signer, user, now=early.astimezone(dt.UTC))
    assert issued.filename == "master0120261123003005.p12"


def test_empty_password_and_unknown_key_type_are_refused(dbsession, signer):
    user = _user(dbsession)
    with pytest.raises(ValueError, match="password"):
        issue_certificate(dbsession, signer, user, "", now=ISSUED, actor="master01")
    with pytest.raises(ValueError, match="key_type"):
        issue_certificate(
            dbsession, signer, user, PASSWORD, key_type="ec-p384", now=ISSUED, actor="master01"
        )
    with pytest.raises(ValueError, match="naive"):
        issue_certificate(
            dbsession, signer, user, PASSWORD, now=ISSUED.replace(tzinfo=None), actor="master01"
        )


# --- CERT-2: what the certificate says ---------------------------------------------------------


def test_the_certificate_verifies_against_the_ca_as_a_client_certificate(
    dbsession, signer, tmp_path
):
    """CERT-2: issued by our CA, for TLS client authentication."""
    # Within the test CA's own validity (it was made today), whatever the fixed dates elsewhere.
    now = signer.ca_certificate.not_valid_before_utc + dt.timedelta(hours=1)
    issued = _issue(dbsession, signer, _user(dbsession), now=now, key_type="rsa-2048")
    _, cert, _ = _load(issued)
    leaf, ca = tmp_path / "leaf.pem", tmp_path / "ca.pem"
    leaf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.write_bytes(signer.ca_certificate.public_bytes(serialization.Encoding.PEM))
    at = int((now + dt.timedelta(minutes=1)).timestamp())

    result = _openssl(
        "verify", "-CAfile", ca, "-purpose", "sslclient", "-x509_strict", "-attime", at, leaf
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK")

    as_server = _openssl("verify", "-CAfile", ca, "-purpose", "sslserver", "-attime", at, leaf)
    assert as_server.returncode != 0  # clientAuth only


def test_subject_names_the_user_first_and_the_contract(dbsession, signer):
    """CERT-2: CN is the user ID (003: the picker shows it); the subject names the contract."""
    user = _user(dbsession, "Rokin01x", "00012345")
    issued = _issue(dbsession, signer, user)
    _, cert, _ = _load(issued)

    subject = cert.subject
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(common_name, str) and common_name.startswith("Rokin01x")
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "00012345"
    organisation = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0]
    assert organisation.value == ORGANISATION
    assert organisation._type == _ASN1Type.UTF8String
    assert cert.issuer == signer.ca_certificate.subject
    issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert issuer_cn == "Rokin-KW CA"


def test_extensions_of_a_client_certificate(dbsession, signer):
    """CERT-2: clientAuth EKU, not a CA, key identifiers chaining to the CA's."""
    _, cert, _ = _load(_issue(dbsession, signer, _user(dbsession)))
    extensions = cert.extensions

    eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    basic = extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    ski = extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = signer.ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ca_ski.value.digest
    assert cert.serial_number > 0 and cert.serial_number.bit_length() > 64
    cert.verify_directly_issued_by(signer.ca_certificate)


def test_validity_is_366_days_counting_the_issue_day_until_2359_jst(dbsession, signer):
    """CERT-2: issued 2026-11-22 10:00 JST → valid until 2027-11-22 23:59:59 JST."""
    issued = _issue(dbsession, signer, _user(dbsession))
    _, cert, _ = _load(issued)

    assert cert.not_valid_before_utc == ISSUED
    assert cert.not_valid_after_utc == EXPIRES
    assert issued.certificate.not_before == ISSUED
    assert issued.certificate.not_after == EXPIRES


@pytest.mark.parametrize(
    ("now", "last_day"),
    [
        # 23:30 JST: late in the Japanese day, the same day in UTC.
        (dt.datetime(2026, 11, 22, 23, 30, tzinfo=JST), dt.date(2027, 11, 22)),
        # 00:30 JST on the 23rd is still the 22nd in UTC: the Japanese date counts.
        (dt.datetime(2026, 11, 22, 15, 30, tzinfo=dt.UTC), dt.date(2027, 11, 23)),
        (dt.datetime(2026, 11, 22, 23, 59, 59, tzinfo=JST), dt.date(2027, 11, 22)),
        (dt.datetime(2026, 11, 23, 0, 0, tzinfo=JST), dt.date(2027, 11, 23)),
        # 365 days, not "one year": into a leap year it ends on 29 February.
        (dt.datetime(2027, 3, 1, 9, 0, tzinfo=JST), dt.date(2028, 2, 29)),
    ],
)
def test_the_last_day_is_computed_from_the_japanese_date(now, last_day):
    not_before, not_after = validity(now)
    assert not_before == now
    assert not_after == dt.datetime.combine(last_day, dt.time(23, 59, 59), JST)
    counted = (last_day - now.astimezone(JST).date()).days + 1
    assert counted == 366


def test_the_row_matches_the_certificate_as_login_looks_it_up(dbsession, signer):
    """The row is found the way core.security.policy finds a presented certificate."""
    issued = _issue(dbsession, signer, _user(dbsession))
    _, cert, _ = _load(issued)
    dbsession.expunge_all()

    row = dbsession.scalars(
        select(Certificate).where(
            Certificate.serial == format(cert.serial_number, "x"),
            Certificate.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex(),
        )
    ).one()
    assert row.status == CertificateStatus.VALID
    assert row.subject == cert.subject.rfc4514_string()
    assert row.issuer == cert.issuer.rfc4514_string()
    assert row.first_used_at is None and row.revoked_at is None
    assert row.user.user_id == "master01"


def test_nothing_holding_the_private_key_or_the_password_reaches_the_database(
    dbsession, signer, db_url
):
    """CERT-3: the private key is never stored; nor the PKCS#12 or its password (every row read)."""
    user = _user(dbsession)
    issued = [_issue(dbsession, signer, user, key_type="rsa-2048")]
    issued.append(
        _issue(dbsession, signer, user, now=ISSUED + dt.timedelta(minutes=5), key_type="ec-p256")
    )

    needles: list[str] = [PASSWORD]
    for one in issued:
        key, _, _ = _load(one)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        needles += [der.hex(), base64.b64encode(der).decode()[:64], pem.decode().splitlines()[1]]
        needles += [one.pkcs12.hex()[:64], base64.b64encode(one.pkcs12).decode()[:64]]
        if isinstance(key, rsa.RSAPrivateKey):
            secret = key.private_numbers().d
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            secret = key.private_numbers().private_value
        needles += [str(secret), format(secret, "x"), format(secret, "X")]

    dump = []
    with dbsession.connection() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                for value in row:
                    dump.append(value.hex() if isinstance(value, bytes) else str(value))
    everything = "\n".join(dump)
    assert format(_load(issued[0])[1].serial_number, "x") in everything  # the dump is real
    for needle in needles:
        assert needle not in everything


def test_issuance_is_audited_with_the_serial_and_no_secret(dbsession, signer):
    issued = _issue(dbsession, signer, _user(dbsession))
    event = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "cert.issue")).one()
    assert event.actor == "master01" and event.target == "master01"
    assert event.contract_no == "00012345"
    assert event.details["serial"] == issued.certificate.serial
    assert event.details["kind"] == "new"
    assert PASSWORD not in repr(event.details) + (event.message or "")


# --- AUTH-4: when a new certificate may be issued ----------------------------------------------


def _held(dbsession: Session, signer: Any, *, used: bool = True) -> tuple[User, Certificate]:
    user = _user(dbsession)
    certificate = _issue(dbsession, signer, user).certificate
    if used:
        record_first_use(dbsession, certificate, ISSUED + dt.timedelta(minutes=1), "master01")
        dbsession.commit()
    return user, certificate


@pytest.mark.parametrize(
    ("now", "refused"),
    [
        (ISSUED + dt.timedelta(minutes=2), True),
        (RENEWAL_OPENS - SECOND, True),  # 2027-10-22 23:59:59 JST: 31 days before the expiry day
        (RENEWAL_OPENS, False),  # 2027-10-23 00:00 JST: 30 days before, inclusive
        (EXPIRES - dt.timedelta(days=30), False),
        (EXPIRES, False),  # the last second of validity: renewal
        (EXPIRES + SECOND, False),  # expired
    ],
)
def test_auth4_a_used_valid_certificate_blocks_until_30_days_before_expiry(
    dbsession, signer, now, refused
):
    """AUTH-4: refused while a valid certificate is held, from 30 days before expiry allowed."""
    user, _ = _held(dbsession, signer)
    for allow in (True, False):
        answer = issuance_refusal(user, now, allow_unused_replacement=allow)
        assert answer == (ISSUANCE_REFUSED_MESSAGE if refused else None)


def test_auth4_the_window_in_days_and_the_message(dbsession, signer):
    """AUTH-4 in words: 31 days before expiry refused, 30 days before allowed."""
    user, certificate = _held(dbsession, signer)
    expiry_day = certificate.not_after.astimezone(JST).date()
    day_31 = dt.datetime.combine(expiry_day - dt.timedelta(days=31), dt.time(12), JST)
    day_30 = dt.datetime.combine(expiry_day - dt.timedelta(days=30), dt.time(12), JST)
    refusal = issuance_refusal(user, day_31, allow_unused_replacement=True)
    assert refusal is not None
    assert "有効な電子証明書が発行済みのため、発行できません。" in refusal
    assert "有効期限の30日前から更新できます。" in refusal
    assert issuance_refusal(user, day_30, allow_unused_replacement=True) is None
    assert certificates.renewal_opens_at(certificate) == RENEWAL_OPENS


def test_auth4_no_certificate_or_a_revoked_one_allows_issuance(dbsession, signer):
    newcomer = _user(dbsession, "general01", "00099999")
    assert issuance_refusal(newcomer, ISSUED, allow_unused_replacement=False) is None
    user, certificate = _held(dbsession, signer)
    later = ISSUED + dt.timedelta(days=2)
    assert issuance_refusal(user, later, allow_unused_replacement=False) is not None

    assert revoke(
        dbsession, certificate, reason="keyCompromise", actor="bank01", actor_kind="bank", now=later
    )
    dbsession.commit()
    assert issuance_refusal(user, later, allow_unused_replacement=False) is None


def test_auth4_an_unused_certificate_is_replaceable_only_when_the_bank_allows_it(dbsession, signer):
    """CERT-8 is the one other exception, and a bank setting turns it off."""
    user, _ = _held(dbsession, signer, used=False)
    later = ISSUED + dt.timedelta(days=3)
    assert issuance_refusal(user, later, allow_unused_replacement=True) is None
    assert issuance_refusal(user, later, allow_unused_replacement=False) == (
        ISSUANCE_REFUSED_MESSAGE
    )


def test_issue_checks_auth4_again_and_raises(dbsession, signer):
    """A second 発行 (double click, replayed form) cannot give a second certificate."""
    user, _ = _held(dbsession, signer)
    with pytest.raises(IssuanceRefused) as caught:
        issue_certificate(
            dbsession, signer, user, PASSWORD, now=ISSUED + dt.timedelta(days=1), actor="master01"
        )
    assert caught.value.message == ISSUANCE_REFUSED_MESSAGE
    dbsession.rollback()
    assert len(dbsession.scalars(select(Certificate)).all()) == 1


def test_two_concurrent_issues_give_one_certificate(postgresql_url, signer):
    """CERT-2 under concurrency: the second 発行 waits for the first and is then refused."""
    import threading

    from core.db import make_engine, make_session_factory

    engine = make_engine(postgresql_url)
    factory = make_session_factory(engine)
    outcome: list[object] = []
    try:
        with factory() as setup:
            user_pk = _user(setup).id
            setup.commit()
        first, second = factory(), factory()
        issue_certificate(
            first,
            signer,
            first.get_one(User, user_pk),
            PASSWORD,
            key_type="ec-p256",
            now=ISSUED,
            actor="master01",
            allow_unused_replacement=False,
        )

        def other_tab() -> None:
            try:
                issue_certificate(
                    second,
                    signer,
                    second.get_one(User, user_pk),
                    PASSWORD,
                    key_type="ec-p256",
                    now=ISSUED,
                    actor="master01",
                    allow_unused_replacement=False,
                )
                outcome.append("issued")
            except IssuanceRefused as exc:
                outcome.append(exc)
            finally:
                second.rollback()

        thread = threading.Thread(target=other_tab)
        thread.start()
        thread.join(0.5)  # it waits on the user's row lock (or has not started yet)
        first.commit()
        thread.join(30)
        first.close()
        second.close()
        with factory() as check:
            assert len(check.scalars(select(Certificate)).all()) == 1
    finally:
        engine.dispose()
    assert len(outcome) == 1 and isinstance(outcome[0], IssuanceRefused)


# --- CERT-8: an unused certificate replaced ----------------------------------------------------


def test_cert8_the_unused_certificate_is_revoked_in_the_same_transaction(dbsession, signer):
    user, unused = _held(dbsession, signer, used=False)
    later = ISSUED + dt.timedelta(hours=2)

    issued = _issue(dbsession, signer, user, now=later, allow_unused_replacement=True)

    assert issued.replaced == [unused]
    dbsession.expunge_all()
    old = dbsession.get(Certificate, unused.id)
    assert old is not None
    assert old.status == CertificateStatus.REVOKED
    assert old.revocation_reason == "superseded"
    assert old.revoked_at == later
    new = dbsession.get(Certificate, issued.certificate.id)
    assert new is not None and new.status == CertificateStatus.VALID
    revoked = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "cert.revoke")).one()
    assert revoked.details == {"serial": unused.serial, "reason": "superseded"}
    issue_event = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "cert.issue").order_by(AuditEvent.id.desc())
    ).first()
    assert issue_event is not None
    assert issue_event.details["kind"] == "replacement"
    assert issue_event.details["replaced"] == [unused.serial]


def test_cert8_off_refuses_the_replacement(dbsession, signer):
    user, unused = _held(dbsession, signer, used=False)
    with pytest.raises(IssuanceRefused):
        issue_certificate(
            dbsession,
            signer,
            user,
            PASSWORD,
            now=ISSUED + dt.timedelta(hours=2),
            actor="master01",
            allow_unused_replacement=False,
        )
    dbsession.rollback()
    assert dbsession.get(Certificate, unused.id).status == CertificateStatus.VALID


def test_cert8_a_lost_renewal_download_can_be_replaced_too(dbsession, signer):
    """Old one used and expiring soon, renewal issued but never used: the renewal is replaceable."""
    user, old = _held(dbsession, signer)
    lost = _issue(dbsession, signer, user, now=RENEWAL_OPENS + dt.timedelta(days=1)).certificate
    again = RENEWAL_OPENS + dt.timedelta(days=2)
    assert issuance_refusal(user, again, allow_unused_replacement=False) is not None

    issued = _issue(dbsession, signer, user, now=again)

    assert issued.replaced == [lost]
    assert lost.status == CertificateStatus.REVOKED
    assert old.status == CertificateStatus.VALID  # still the one in use until the new one is used


# --- CERT-4: renewal, superseded at first use --------------------------------------------------


def test_cert4_renewal_keeps_the_old_one_until_the_new_one_is_first_used(dbsession, signer):
    user, old = _held(dbsession, signer)
    renewed_at = RENEWAL_OPENS + dt.timedelta(days=5)

    renewal = _issue(dbsession, signer, user, now=renewed_at)

    assert renewal.replaced == []
    assert old.status == CertificateStatus.VALID
    event = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "cert.issue").order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.details["kind"] == "renewal"

    # Logging in with the old certificate meanwhile changes nothing.
    assert record_first_use(dbsession, old, renewed_at + SECOND, "master01") == []
    assert renewal.certificate.status == CertificateStatus.VALID

    first_login = renewed_at + dt.timedelta(hours=1)
    revoked = record_first_use(dbsession, renewal.certificate, first_login, "master01")
    dbsession.commit()

    assert revoked == [old]
    dbsession.expunge_all()
    old_row = dbsession.get(Certificate, old.id)
    assert old_row is not None
    assert old_row.status == CertificateStatus.REVOKED
    assert old_row.revocation_reason == "superseded"
    new_row = dbsession.get(Certificate, renewal.certificate.id)
    assert new_row is not None and new_row.first_used_at == first_login

    # A later login keeps the first use time and revokes nothing more.
    assert record_first_use(dbsession, new_row, first_login + dt.timedelta(days=1), "x") == []
    assert new_row.first_used_at == first_login


def test_first_use_of_a_revoked_certificate_changes_nothing(dbsession, signer):
    _, certificate = _held(dbsession, signer, used=False)
    revoke(dbsession, certificate, reason="unspecified", actor="bank01", now=ISSUED + SECOND)
    assert record_first_use(dbsession, certificate, ISSUED + 2 * SECOND, "master01") == []
    assert certificate.first_used_at is None


# --- Revocation --------------------------------------------------------------------------------


def test_revoke_is_idempotent_and_audited_once(dbsession, signer):
    _, certificate = _held(dbsession, signer)
    when = ISSUED + dt.timedelta(days=10)

    assert revoke(
        dbsession,
        certificate,
        reason="affiliationChanged",
        actor="bank01",
        actor_kind="bank",
        now=when,
    )
    assert not revoke(
        dbsession, certificate, reason="keyCompromise", actor="bank01", actor_kind="bank", now=when
    )
    dbsession.commit()

    dbsession.expunge_all()
    row = dbsession.get(Certificate, certificate.id)
    assert row is not None
    assert (row.status, row.revocation_reason, row.revoked_at) == (
        CertificateStatus.REVOKED,
        "affiliationChanged",
        when,
    )
    events = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "cert.revoke")).all()
    assert len(events) == 1
    assert (events[0].actor, events[0].actor_kind, events[0].target) == (
        "bank01",
        "bank",
        "master01",
    )
    assert events[0].details == {"serial": certificate.serial, "reason": "affiliationChanged"}


def test_revoke_with_a_stale_copy_in_another_session_does_nothing(dbsession, signer, db_url):
    """Two staff members revoking at once: one revocation, one audit event."""
    from core.db import make_engine, make_session_factory

    _, certificate = _held(dbsession, signer)
    engine = make_engine(db_url)
    other = make_session_factory(engine)()
    try:
        stale = other.get(Certificate, certificate.id)
        assert stale is not None and stale.status == CertificateStatus.VALID
        other.commit()  # ends the read; objects stay loaded: ``stale`` still believes it is valid

        assert revoke(dbsession, certificate, reason="unspecified", actor="a", now=ISSUED + SECOND)
        dbsession.commit()
        assert not revoke(other, stale, reason="keyCompromise", actor="b", now=ISSUED + 2 * SECOND)
        other.commit()
        assert stale.revocation_reason == "unspecified"
    finally:
        other.close()
        engine.dispose()
    count = len(
        dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "cert.revoke")).all()
    )
    assert count == 1


@pytest.mark.parametrize("reason", ["certificateHold", "removeFromCRL", "cACompromise", "lost", ""])
def test_revoke_accepts_only_rfc5280_reasons_for_customers(dbsession, signer, reason):
    _, certificate = _held(dbsession, signer)
    with pytest.raises(ValueError, match="RFC 5280"):
        revoke(dbsession, certificate, reason=reason, actor="bank01", now=ISSUED + SECOND)
    assert certificate.status == CertificateStatus.VALID


def test_revocation_reasons_map_to_crl_reason_flags():
    for name, flag in REVOCATION_REASONS.items():
        assert flag.value == name
    assert "certificateHold" not in REVOCATION_REASONS


# --- The result screen -------------------------------------------------------------------------


def test_certificate_summary_in_japan_time(dbsession, signer):
    issued = _issue(dbsession, signer, _user(dbsession))
    summary = certificate_summary(issued.certificate)
    assert summary["common_name"] == "master01"
    assert summary["issuer_common_name"] == "Rokin-KW CA"
    assert summary["not_before_text"] == "2026/11/22 10:00:00"
    assert summary["not_after_text"] == "2027/11/22 23:59:59"
    assert summary["not_after"] == EXPIRES and summary["not_after"].utcoffset() == dt.timedelta(
        hours=9
    )
    assert (
        summary["serial_display"].replace(":", "").lower().lstrip("0") == issued.certificate.serial
    )


def test_the_pkcs12_file_name_is_written_to_disk_as_is(dbsession, signer, tmp_path: Path):
    issued = _issue(dbsession, signer, _user(dbsession))
    path = tmp_path / issued.filename
    path.write_bytes(issued.pkcs12)
    assert path.name == "master0120261122100000.p12"
