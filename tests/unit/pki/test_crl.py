"""The CA's CRL (CERT-6): built from the database, signed by the active signer, published after every
committed revocation (BANK-5, CERT-4, CERT-8) and daily, written atomically for nginx, read by OpenSSL.

Each test has its own copy of the CA folder, so the files it asserts on are its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.db.models import Certificate, CertificateStatus, Contract, ContractKind, User
from core.pki import crl as crl_module
from core.pki.certificates import (
    REVOCATION_REASONS,
    IssuedCertificate,
    issue_certificate,
    record_first_use,
    revoke,
)
from core.pki.crl import (
    NGINX_CRL_FILE,
    CRLPublisher,
    PublicationWorker,
    build_crl,
    crl_number,
    der_path,
    issuer_slug,
    next_number,
    watch,
)
from core.pki.signers import load_signer
from core.pki.x509 import CA_CERT_FILE
from core.settings import validate
from hsm.interfaces import SignerUnavailable
from hsm.software import CA_KEY_FILE

PASSWORD = "Passw0rd!x"


@dataclass
class PKI:
    """A CA folder of this test, its signer, and a session factory watched by a CRL publisher."""

    folder: Path
    settings: dict[str, Any]
    signer: Any
    factory: sessionmaker[Session]
    publisher: CRLPublisher
    worker: PublicationWorker

    @property
    def ca_pem(self) -> Path:
        return self.folder / CA_CERT_FILE

    @property
    def der_file(self) -> Path:
        return der_path(self.folder, self.signer.ca_certificate)

    def crl(self) -> x509.CertificateRevocationList:
        """The DER file, once the publications asked for so far are written."""
        assert self.worker.wait(), "the CRL publication did not finish"
        return x509.load_der_x509_crl(self.der_file.read_bytes())


def copy_ca(ca_settings: dict[str, str], folder: Path) -> dict[str, Any]:
    """Validated settings of a copy of the worker's CA in ``folder``."""
    folder.mkdir(parents=True)
    for name in (CA_CERT_FILE, CA_KEY_FILE):
        shutil.copy2(Path(ca_settings["cjs.ca.dir"]) / name, folder / name)
    return validate(
        {
            **ca_settings,
            "cjs.ca.dir": str(folder),
            "sqlalchemy.url": "sqlite://",
            "cjs.environment": "development",
        }
    )


@pytest.fixture
def pki(db_url: str, ca_settings: dict[str, str], tmp_path: Path) -> Iterator[PKI]:
    settings = copy_ca(ca_settings, tmp_path / "ca")
    settings["sqlalchemy.url"] = db_url
    signer = load_signer(settings)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    publisher = CRLPublisher(settings, lambda: signer, factory)
    worker = PublicationWorker(publisher, retry_seconds=0.05)
    watch(factory, worker.request)  # as core.pki.crl.includeme does
    try:
        yield PKI(tmp_path / "ca", settings, signer, factory, publisher, worker)
    finally:
        worker.stop()
        engine.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _user(session: Session, user_id: str) -> User:
    contract = Contract(
        contract_no=f"9{user_id[-4:]:0>7}",
        kind=ContractKind.MEMBER,
        organisation_name="ろうきん労働組合",
        initial_password_hash="$argon2id$placeholder",
    )
    user = User(
        contract=contract,
        user_id=user_id,
        role="master",
        name="労金　五郎",
        email=f"{user_id}@example.jp",
        password_hash="$argon2id$placeholder",
    )
    session.add(user)
    session.flush()
    return user


def _issue(pki: PKI, user_id: str, now: dt.datetime | None = None) -> IssuedCertificate:
    with pki.factory() as session:
        user = session.scalars(select(User).where(User.user_id == user_id)).one_or_none()
        user = user or _user(session, user_id)
        issued = issue_certificate(
            session,
            pki.signer,
            user,
            PASSWORD,
            key_type="ec-p256",
            now=now or _now(),
            actor=user_id,
            kdf_rounds=1000,
        )
        session.commit()
    assert pki.worker.wait()  # a CERT-8 replacement's publication is written before the next step
    return issued


def _pem(issued: IssuedCertificate, path: Path) -> Path:
    _, certificate, _ = pkcs12.load_key_and_certificates(issued.pkcs12, PASSWORD.encode())
    assert certificate is not None
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _revoke(pki: PKI, serial: str, reason: str, *, commit: bool = True, wait: bool = True) -> None:
    with pki.factory() as session:
        row = session.scalars(select(Certificate).where(Certificate.serial == serial)).one()
        assert revoke(session, row, reason=reason, actor="bank01", actor_kind="staff", now=_now())
        if commit:
            session.commit()
        else:
            session.rollback()
    if wait:
        assert pki.worker.wait()


def _openssl(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)


def _entry(crl: x509.CertificateRevocationList, serial: str) -> x509.RevokedCertificate | None:
    return crl.get_revoked_certificate_by_serial_number(int(serial, 16))


# --- Publication after commit ----------------------------------------------------------------


def test_a_committed_revocation_reaches_the_files_and_openssl_refuses_the_certificate(
    pki: PKI, tmp_path: Path
) -> None:
    """CERT-6, BANK-5: revoke → commit → the DER and PEM files list it with its reason and date;
    openssl reads the CRL, and ``verify -crl_check`` refuses the revoked certificate but accepts
    another one of the same CA."""
    revoked = _issue(pki, "user0001")
    kept = _issue(pki, "user0002")
    before = _now().replace(microsecond=0)

    _revoke(pki, revoked.certificate.serial, "keyCompromise")

    crl = pki.crl()
    entry = _entry(crl, revoked.certificate.serial)
    assert entry is not None and _entry(crl, kept.certificate.serial) is None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert entry.revocation_date_utc >= before
    pem = x509.load_pem_x509_crl((pki.folder / NGINX_CRL_FILE).read_bytes())
    assert pem.public_bytes(serialization.Encoding.DER) == pki.der_file.read_bytes()

    text = _openssl("crl", "-inform", "DER", "-noout", "-text", "-in", pki.der_file)
    assert text.returncode == 0, text.stderr
    serial = revoked.certificate.serial.upper()
    assert f"Serial Number: {serial.zfill(len(serial) + len(serial) % 2)}" in text.stdout
    assert "Key Compromise" in text.stdout
    assert "X509v3 CRL Number" in text.stdout and "Authority Key Identifier" in text.stdout

    crl_args = ("-crl_check", "-CAfile", pki.ca_pem, "-CRLfile", pki.folder / NGINX_CRL_FILE)
    refused = _openssl("verify", *crl_args, _pem(revoked, tmp_path / "revoked.pem"))
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    accepted = _openssl("verify", *crl_args, _pem(kept, tmp_path / "kept.pem"))
    assert accepted.returncode == 0 and accepted.stdout.strip().endswith(": OK"), accepted.stderr


def test_a_revocation_in_a_savepoint_is_published_after_the_outer_commit(pki: PKI) -> None:
    """CERT-6, BANK-5: SQLAlchemy signals after_commit when a SAVEPOINT is released too (the staff
    app applies an approved request in one); the publication waits for the real commit, and so
    lists the certificate."""
    issued = _issue(pki, "user0001")
    with pki.factory() as session:
        row = session.scalars(
            select(Certificate).where(Certificate.serial == issued.certificate.serial)
        ).one()
        with session.begin_nested():
            revoke(session, row, reason="superseded", actor="bank01", actor_kind="bank", now=_now())
        assert pki.worker.wait()  # nothing asked for at the savepoint's release
        session.commit()
    assert _entry(pki.crl(), issued.certificate.serial) is not None


def test_a_rolled_back_revocation_never_reaches_the_file(pki: PKI) -> None:
    """CERT-6: the file is written from committed data only, after the commit."""
    issued = _issue(pki, "user0001")
    pki.publisher.publish()
    first = pki.der_file.read_bytes()

    _revoke(pki, issued.certificate.serial, "keyCompromise", commit=False)

    assert pki.der_file.read_bytes() == first  # nothing published on rollback
    pki.publisher.publish()
    assert _entry(pki.crl(), issued.certificate.serial) is None


def test_the_revoking_commit_does_not_wait_for_the_publication_and_a_burst_shares_one(
    pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CERT-6: the transaction that revokes commits and returns while the CRL is still being signed
    and written (a customer's request never waits for the CA or nginx's reload); the revocations
    committed meanwhile are all in the one publication that follows."""
    issued = [_issue(pki, f"user{i:04d}") for i in range(4)]
    pki.publisher.publish()
    before = pki.der_file.read_bytes()
    real_publish = pki.publisher.publish
    gate, started = threading.Event(), threading.Event()
    calls: list[int] = []

    def gated(now: dt.datetime | None = None) -> Any:
        calls.append(len(calls))
        started.set()
        assert gate.wait(10)
        return real_publish(now)

    monkeypatch.setattr(pki.publisher, "publish", gated)
    _revoke(pki, issued[0].certificate.serial, "keyCompromise", wait=False)
    assert started.wait(10)  # the worker is publishing, held at the gate
    for item in issued[1:]:
        _revoke(pki, item.certificate.serial, "affiliationChanged", wait=False)
    assert pki.der_file.read_bytes() == before  # four commits returned, nothing written yet

    gate.set()
    crl = pki.crl()  # waits for the worker
    assert all(_entry(crl, item.certificate.serial) is not None for item in issued)
    assert calls == [0, 1]  # the one under way, then one for the three that came meanwhile


def test_a_failed_publication_is_logged_and_retried_until_the_file_lists_the_revocation(
    pki: PKI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """CERT-6, fail closed: a publication that fails (the HSM unreachable) is logged and tried again
    until it is written; nothing waits on the customer's side."""
    issued = _issue(pki, "user0001")
    real_publish = pki.publisher.publish
    failures = [SignerUnavailable("token removed"), SignerUnavailable("token removed")]

    def flaky(now: dt.datetime | None = None) -> Any:
        if failures:
            raise failures.pop()
        return real_publish(now)

    monkeypatch.setattr(pki.publisher, "publish", flaky)
    with caplog.at_level(logging.ERROR, logger="core.pki.crl"):
        _revoke(pki, issued.certificate.serial, "keyCompromise")  # waits for the worker

    assert not failures
    assert _entry(pki.crl(), issued.certificate.serial) is not None
    assert caplog.text.count("CRL publication after a revocation failed; retrying") == 2


def test_stopping_with_a_publication_that_keeps_failing_says_so_and_the_next_start_publishes(
    pki: PKI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """CERT-6: ``stop()`` (``cjs serve`` stopping) gives a failing publication its time, then ends the
    thread with a warning; the file is then stale, and the refresh at the next start lists it."""
    issued = _issue(pki, "user0001")
    pki.publisher.publish()

    def failing(now: dt.datetime | None = None) -> Any:
        raise SignerUnavailable("token removed")

    monkeypatch.setattr(pki.publisher, "publish", failing)
    with caplog.at_level(logging.WARNING, logger="core.pki.crl"):
        _revoke(pki, issued.certificate.serial, "keyCompromise", wait=False)
        pki.worker.stop(timeout=0.3)
    assert "stopping with a CRL publication pending" in caplog.text
    assert not pki.worker.is_alive()

    monkeypatch.undo()
    assert "lists 0 certificates, the database 1" in (pki.publisher.stale_reason() or "")
    assert pki.publisher.refresh() is True  # what includeme does at start
    assert _entry(x509.load_der_x509_crl(pki.der_file.read_bytes()), issued.certificate.serial)


def test_the_crl_names_its_issuer_key_and_a_two_day_validity(pki: PKI) -> None:
    """CERT-6 (RFC 5280): issuer, authority key identifier of the CA key, nextUpdate +48 h, signed by
    the CA key; the entry of an ``unspecified`` revocation carries no reasonCode (RFC 5280 5.3.1)."""
    issued = _issue(pki, "user0001")
    _revoke(pki, issued.certificate.serial, "unspecified")

    crl = pki.crl()
    ca = pki.signer.ca_certificate
    assert crl.issuer == ca.subject
    assert crl.is_signature_valid(ca.public_key())
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(hours=48)
    entry = _entry(crl, issued.certificate.serial)
    assert entry is not None and len(entry.extensions) == 0
    assert pki.der_file.name == f"{issuer_slug(ca)}.crl"
    assert issuer_slug(ca).startswith("rokin-kw-ca-")


@pytest.mark.parametrize("reason", sorted(REVOCATION_REASONS))
def test_every_offered_reason_is_written_as_its_rfc5280_code(pki: PKI, reason: str) -> None:
    """BANK-5: the reason staff pick is the entry's reasonCode (none for unspecified)."""
    issued = _issue(pki, "user0001")
    _revoke(pki, issued.certificate.serial, reason)

    entry = _entry(pki.crl(), issued.certificate.serial)
    assert entry is not None
    codes = [e.value.reason for e in entry.extensions if isinstance(e.value, x509.CRLReason)]
    expected = REVOCATION_REASONS[reason]
    assert codes == ([] if expected == x509.ReasonFlags.unspecified else [expected])


def test_cert8_replacement_and_cert4_supersession_are_on_the_crl(pki: PKI) -> None:
    """CERT-8: an unused certificate replaced by its user, and CERT-4: the old certificate superseded
    at the first use of its renewal, are both revoked through the one revocation function and
    listed as ``superseded``."""
    unused = _issue(pki, "user0001")
    replacement = _issue(pki, "user0001")  # CERT-8: the unused one is revoked in this transaction
    assert [c.serial for c in replacement.replaced] == [unused.certificate.serial]

    # CERT-4: a certificate in its renewal window is renewed; the new one's first use supersedes it.
    expiring = _issue(pki, "user0002", now=_now() - dt.timedelta(days=350))
    renewal = _issue(pki, "user0002")
    assert renewal.replaced == []
    with pki.factory() as session:
        new = session.get_one(Certificate, renewal.certificate.id)
        superseded = record_first_use(session, new, _now(), actor="user0002")
        session.commit()
    assert [c.serial for c in superseded] == [expiring.certificate.serial]

    crl = pki.crl()
    for serial in (unused.certificate.serial, expiring.certificate.serial):
        entry = _entry(crl, serial)
        assert entry is not None, serial
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert reason == x509.ReasonFlags.superseded
    assert _entry(crl, replacement.certificate.serial) is None
    assert _entry(crl, renewal.certificate.serial) is None


# --- Numbering, files, staleness ---------------------------------------------------------------


def test_crl_numbers_strictly_increase_even_when_the_clock_goes_back(pki: PKI) -> None:
    """CERT-6 (RFC 5280 5.2.3): the number is max(thisUpdate in ms, previous + 1)."""
    now = _now()
    first = pki.publisher.publish(now)[0].number
    second = pki.publisher.publish(now)[0].number  # same second
    earlier = pki.publisher.publish(now - dt.timedelta(hours=1))[0].number  # clock stepped back
    assert first == int(now.replace(microsecond=0).timestamp() * 1000)
    assert first < second < earlier
    assert crl_number(pki.crl()) == earlier
    assert next_number(now, None) == int(now.timestamp() * 1000)


def test_concurrent_publishers_of_one_folder_never_go_backwards(pki: PKI, db_url: str) -> None:
    """CERT-6: publishers of several processes (each its own publisher and engine here) serialise on
    the folder's lock: numbers are all distinct and the file ends with the highest one and with every
    committed revocation."""
    issued = [_issue(pki, f"user{i:04d}") for i in range(4)]
    engines = [make_engine(db_url) for _ in range(4)]
    publishers = [
        CRLPublisher(pki.settings, lambda: pki.signer, make_session_factory(e)) for e in engines
    ]
    numbers: list[int] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            _revoke(pki, issued[index].certificate.serial, "affiliationChanged")
            for _ in range(3):
                numbers.extend(p.number for p in publishers[index].publish())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()

    assert not errors, errors
    assert len(set(numbers)) == len(numbers) == 12
    crl = pki.crl()
    assert crl_number(crl) == max(numbers)
    assert {f"{e.serial_number:x}" for e in crl} == {i.certificate.serial for i in issued}
    assert not [p for p in pki.folder.iterdir() if p.name.endswith(".tmp")]


def test_a_revocation_committed_elsewhere_makes_the_crl_stale_and_a_refresh_lists_it(
    pki: PKI, db_url: str
) -> None:
    """CERT-6: a revocation committed by a process without a publisher (another host, a script) is
    noticed by the staleness check the endpoint, the start and the daily job run."""
    issued = _issue(pki, "user0001")
    pki.publisher.publish()
    assert pki.publisher.stale_reason() is None

    other = make_engine(db_url)
    with make_session_factory(other)() as session:  # not watched: no publication after commit
        row = session.get_one(Certificate, issued.certificate.id)
        revoke(session, row, reason="privilegeWithdrawn", actor="bank01", now=_now())
        session.commit()
    other.dispose()

    assert _entry(pki.crl(), issued.certificate.serial) is None
    assert "lists 0 certificates, the database 1" in (pki.publisher.stale_reason() or "")
    assert pki.publisher.refresh() is True
    assert _entry(pki.crl(), issued.certificate.serial) is not None
    assert pki.publisher.refresh() is False


def test_a_crl_past_half_its_validity_or_signed_by_another_key_is_stale(
    pki: PKI, tmp_path: Path
) -> None:
    """CERT-6: republished when less than a day is left, or after a CA key change."""
    now = _now()
    pki.publisher.publish(now)
    assert pki.publisher.stale_reason(now + dt.timedelta(hours=23)) is None
    assert "half its validity" in (pki.publisher.stale_reason(now + dt.timedelta(hours=25)) or "")

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    other_key = ec.generate_private_key(ec.SECP384R1())

    class OtherKey:
        ca_certificate = pki.signer.ca_certificate

        def sign_crl(self, builder: x509.CertificateRevocationListBuilder) -> Any:
            return builder.sign(other_key, hashes.SHA384())

    forged = build_crl(
        OtherKey(), [], number=1, this_update=now, next_update=now + dt.timedelta(days=2)
    )
    pki.der_file.write_bytes(forged.public_bytes(serialization.Encoding.DER))
    assert "signed by another key" in (pki.publisher.stale_reason(now) or "")
    (pki.folder / NGINX_CRL_FILE).unlink()
    assert "missing" in (pki.publisher.stale_reason(now) or "")


def test_an_expired_certificate_leaves_the_crl_a_week_after_its_expiry(pki: PKI) -> None:
    """CERT-6 (RFC 5280 3.3): an entry stays until it has appeared on a CRL issued after the
    certificate expired; :data:`core.pki.crl.RETENTION` (7 days) later it drops out."""
    issued = _issue(pki, "user0001")
    _revoke(pki, issued.certificate.serial, "cessationOfOperation")
    not_after = issued.certificate.not_after

    pki.publisher.publish(not_after + dt.timedelta(days=6))
    assert _entry(pki.crl(), issued.certificate.serial) is not None
    pki.publisher.publish(not_after + dt.timedelta(days=8))
    assert _entry(pki.crl(), issued.certificate.serial) is None


def test_the_reload_command_runs_after_the_file_is_written_and_its_failure_is_only_logged(
    pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """CERT-6: ``cjs.crl.reload_command`` (e.g. ``nginx -s reload``) runs without a shell once the
    new file is in place; a failing command is logged, the publication stands."""
    marker = tmp_path / "reloaded"
    script = (
        "import sys, pathlib; from cryptography import x509; "
        "crl = x509.load_pem_x509_crl(pathlib.Path(sys.argv[1]).read_bytes()); "
        "pathlib.Path(sys.argv[2]).write_text(str(crl.extensions.get_extension_for_class("
        "x509.CRLNumber).value.crl_number))"
    )
    pki.publisher.reload_command = [sys.executable, "-c", script, str(pki.folder / NGINX_CRL_FILE)]
    pki.publisher.reload_command = [*pki.publisher.reload_command, str(marker)]
    number = pki.publisher.publish()[0].number
    assert marker.read_text() == str(number)  # the command saw the new file

    pki.publisher.reload_command = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    with caplog.at_level(logging.ERROR, logger="core.pki.crl"):
        published = pki.publisher.publish()
    assert crl_number(pki.crl()) == published[0].number
    assert "failed with exit status 3" in caplog.text

    pki.publisher.reload_command = str(tmp_path / "no-such-command")
    with caplog.at_level(logging.ERROR, logger="core.pki.crl"):
        pki.publisher.publish()
    assert "no-such-command" in caplog.text


def test_the_daily_job_publishes_a_new_crl(pki: PKI) -> None:
    """CERT-6: ``cjs jobs daily`` signs a fresh CRL (new number, new nextUpdate) even without
    revocations, so the file nginx reads never expires."""
    from core.cli import jobs

    issued = _issue(pki, "user0001")
    with pki.factory() as session:  # revoked by a process without a publisher
        session.execute(
            update(Certificate)
            .where(Certificate.id == issued.certificate.id)
            .values(
                status=CertificateStatus.REVOKED, revoked_at=_now(), revocation_reason="superseded"
            )
        )
        session.commit()
    old = pki.publisher.publish(_now() - dt.timedelta(hours=20))[0]

    jobs.run_daily(pki.settings)

    crl = pki.crl()
    assert crl_number(crl) > old.number
    assert crl.next_update_utc is not None and crl.next_update_utc > old.next_update
    assert _entry(crl, issued.certificate.serial) is not None


def test_the_daily_job_without_a_ca_folder_publishes_nothing(db_url: str) -> None:
    """CERT-6: settings naming no CA (a database-only job) leave the CRL alone."""
    from core.db import make_engine as engine_for

    engine = engine_for(db_url)
    try:
        assert crl_module.publish_daily({}, make_session_factory(engine), _now()) == []
    finally:
        engine.dispose()
