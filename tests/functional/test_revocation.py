"""Revocation through the one revocation service, end to end in the application (CERT-6, BANK-5,
CERT-8, AUTH-5): the open session ends at the next request; the CRL endpoint and the file nginx reads
list the certificate once the revoking transaction commits; the endpoint's HTTP behaviour.

The application is ``core.make_app``'s on a copy of the worker's CA folder owned by the test, so the
CRL files asserted on are the test's own.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from core.app import make_app
from core.db import get_engine, get_session_factory
from core.db.models import AuditEvent, Certificate
from core.pki.certificates import revoke
from core.pki.crl import NGINX_CRL_FILE, der_path, get_publication_worker, issuer_slug
from core.pki.signers import get_signer
from core.pki.x509 import CA_CERT_FILE
from hsm.software import CA_KEY_FILE

PASSWORD = "Passw0rd!"


@pytest.fixture
def app_settings(app_settings: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The usual settings on a copy of the CA folder: this test's CRL files are its own."""
    folder = tmp_path / "ca"
    folder.mkdir()
    for name in (CA_CERT_FILE, CA_KEY_FILE):
        shutil.copy2(Path(app_settings["cjs.ca.dir"]) / name, folder / name)
    return {**app_settings, "cjs.ca.dir": str(folder)}


@pytest.fixture
def app(app_settings: dict[str, str]) -> Iterator[Any]:
    application = make_app(app_settings)
    try:
        yield application
    finally:
        from core.app import close_app

        close_app(application)


@pytest.fixture
def folder(app_settings: dict[str, str]) -> Path:
    return Path(app_settings["cjs.ca.dir"])


@pytest.fixture
def master(customer: Any) -> Any:
    customer.register_master()
    customer.app.reset()
    return customer


def _slug(app: Any) -> str:
    return issuer_slug(get_signer(app.registry).ca_certificate)


def _crl_file(app: Any, folder: Path) -> x509.CertificateRevocationList:
    assert get_publication_worker(
        app.registry
    ).wait()  # published by the worker, moments after the commit
    return x509.load_der_x509_crl(
        der_path(folder, get_signer(app.registry).ca_certificate).read_bytes()
    )


def _reason(crl: x509.CertificateRevocationList, certificate: x509.Certificate) -> Any:
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if entry is None:
        return None
    return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason


def _certificate(pkcs12_data: bytes) -> x509.Certificate:
    from cryptography.hazmat.primitives.serialization import pkcs12

    certificate = pkcs12.load_key_and_certificates(pkcs12_data, PASSWORD.encode())[1]
    assert certificate is not None
    return certificate


def _openssl(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)


def test_revocation_by_the_bank_ends_the_open_session_at_the_next_request_and_reaches_the_crl(
    master: Any, app: Any, folder: Path, dbsession: Any
) -> None:
    """CERT-6, BANK-5, AUTH-5: a logged-in user's certificate is revoked by the bank through the
    revocation service (``core.pki.certificates.revoke``, in another transaction of the application,
    committed); the very next request of the open session lands on the top page with the message,
    and the file nginx reads lists the certificate with the reason, before anyone asks for it
    (the worker writes it moments after the commit)."""
    data, _ = master.issue("master01", PASSWORD)
    master.app.reset()
    certificate = master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0)
    assert "DC671101" in master.app.get("/info").text
    token = master.app.cookies["__Host-cjs_session"]

    with get_session_factory(app.registry)() as back_office:  # BANK-5, as the staff screen will
        row = back_office.scalars(
            select(Certificate).where(Certificate.serial == format(certificate.serial_number, "x"))
        ).one()
        assert revoke(
            back_office,
            row,
            reason="keyCompromise",
            actor="bank01",
            actor_kind="staff",
            now=dt.datetime.now(dt.UTC),
            message="BANK-5: 電子証明書失効等依頼書",
        )
        back_office.commit()

    assert get_publication_worker(
        app.registry
    ).wait()  # the worker publishes moments after the commit
    pem = x509.load_pem_x509_crl((folder / NGINX_CRL_FILE).read_bytes())
    assert _reason(pem, certificate) == x509.ReasonFlags.key_compromise

    page = master.app.get("/info").maybe_follow()
    assert "DC581101" in page.text and "電子証明書が確認できなくなったため" in page.text
    assert "__Host-cjs_session" not in master.app.cookies  # the browser's cookie is cleared
    master.app.set_cookie("__Host-cjs_session", token)  # and a replayed cookie gets nothing either
    replay = master.app.get("/info").maybe_follow()
    assert "DC581101" in replay.text and "DC671101" not in replay.text
    dbsession.rollback()
    event = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "cert.revoke")).one()
    assert (event.actor, event.actor_kind) == ("bank01", "staff")
    assert event.details["reason"] == "keyCompromise"


def test_a_cert8_replacement_reaches_the_served_crl_and_openssl_refuses_only_the_old_one(
    master: Any, app: Any, folder: Path, tmp_path: Path
) -> None:
    """CERT-8, CERT-6: the issuance request that replaces an unused certificate revokes it through the
    same service; once that request commits, the file lists it as superseded and ``/crl/<issuer>.crl``
    serves the same; ``openssl crl`` reads the served DER, and ``openssl verify -crl_check`` refuses
    the replaced certificate and accepts its replacement."""
    first, _ = master.issue("master01", PASSWORD)
    master.app.reset()
    second, _ = master.issue("master01", PASSWORD)
    old, new = _certificate(first), _certificate(second)

    on_disk = _crl_file(app, folder)  # written after the request's commit, not by the GET below
    assert _reason(on_disk, old) == x509.ReasonFlags.superseded
    assert on_disk.get_revoked_certificate_by_serial_number(new.serial_number) is None

    served = master.app.get(f"/crl/{_slug(app)}.crl")
    assert served.content_type == "application/pkix-crl"
    assert served.body == der_path(folder, get_signer(app.registry).ca_certificate).read_bytes()
    crl_der = tmp_path / "served.crl"
    crl_der.write_bytes(served.body)
    text = _openssl("crl", "-inform", "DER", "-noout", "-text", "-in", crl_der)
    assert text.returncode == 0 and "Superseded" in text.stdout, text.stderr

    for name, certificate in (("old.pem", old), ("new.pem", new)):
        (tmp_path / name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    crl_args = ("-crl_check", "-CAfile", folder / CA_CERT_FILE, "-CRLfile", folder / NGINX_CRL_FILE)
    refused = _openssl("verify", *crl_args, tmp_path / "old.pem")
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    accepted = _openssl("verify", *crl_args, tmp_path / "new.pem")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_the_crl_endpoint_is_public_cacheable_until_next_update_and_conditional(
    testapp: Any, app: Any
) -> None:
    """CERT-6: application/pkix-crl, ``Cache-Control: public, max-age`` up to nextUpdate, Expires,
    Last-Modified and ETag (a 304 for If-None-Match), HEAD; no session cookie; an unknown issuer is
    404."""
    url = f"/crl/{_slug(app)}.crl"
    response = testapp.get(url)
    crl = x509.load_der_x509_crl(response.body)
    assert response.content_type == "application/pkix-crl"
    assert "Set-Cookie" not in response.headers
    directives = dict(
        (part.strip().partition("=")[0], part.strip().partition("=")[2])
        for part in response.headers["Cache-Control"].split(",")
    )
    assert "public" in directives and "no-store" not in directives
    max_age = int(directives["max-age"])
    assert crl.next_update_utc is not None
    remaining = (crl.next_update_utc - dt.datetime.now(dt.UTC)).total_seconds()
    assert remaining - 60 <= max_age <= remaining
    assert response.headers["Expires"] == crl.next_update_utc.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert response.headers["Last-Modified"] == crl.last_update_utc.strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    etag = response.headers["ETag"]
    testapp.get(url, headers={"If-None-Match": etag}, status=304)
    head = testapp.head(url)
    assert head.status_int == 200 and head.content_length == len(response.body)
    testapp.get("/crl/another-ca-00000000.crl", status=404)


def test_the_crl_and_ocsp_are_served_outside_service_hours(app_settings: dict[str, str]) -> None:
    """CERT-6, AUTH-7: front proxies fetch the CRL at any hour; the screens answer with the notice."""
    app = make_app(
        {
            **app_settings,
            "cjs.hours.always_open": "false",
            "cjs.hours.maintenance": "2000-01-01T00:00/2100-01-01T00:00",
        }
    )
    try:
        client = webtest.TestApp(
            app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        assert client.get("/", status=503)
        assert client.get(f"/crl/{_slug(app)}.crl").status_int == 200
        answer = client.post("/ocsp", b"\x30\x00", content_type="application/ocsp-request")
        assert answer.content_type == "application/ocsp-response"  # malformedRequest, not 503
    finally:
        get_engine(app.registry).dispose()


def test_a_revocation_in_a_failed_request_never_reaches_the_crl(
    master: Any, app: Any, folder: Path, dbsession: Any
) -> None:
    """CERT-6: a revocation whose transaction rolls back (the request fails after revoking) is not
    published; the file is written from committed data only."""
    data, _ = master.issue("master01", PASSWORD)
    certificate = _certificate(data)
    before = der_path(folder, get_signer(app.registry).ca_certificate).read_bytes()

    import transaction

    manager = transaction.TransactionManager(explicit=True)
    with pytest.raises(RuntimeError), manager:  # as pyramid_tm does for a failing request
        import zope.sqlalchemy

        session = get_session_factory(app.registry)()
        zope.sqlalchemy.register(session, transaction_manager=manager)
        row = session.scalars(
            select(Certificate).where(Certificate.serial == format(certificate.serial_number, "x"))
        ).one()
        revoke(session, row, reason="keyCompromise", actor="bank01", now=dt.datetime.now(dt.UTC))
        session.flush()
        raise RuntimeError("the view failed after revoking")
    session.close()

    assert der_path(folder, get_signer(app.registry).ca_certificate).read_bytes() == before
    dbsession.rollback()
    assert dbsession.scalars(select(Certificate.status)).one() == "valid"


def test_a_revocation_committed_elsewhere_is_served_at_once_even_to_a_browser_with_a_session(
    master: Any, app: Any, dbsession: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """CERT-6: a revocation committed outside the application (here the test's own session, which no
    publisher watches) is noticed by ``/crl/…``, which publishes before answering; also for a request
    that carries a session cookie (on SQLite the request then holds the write lock from its start:
    the publisher must read without waiting for it)."""
    import time

    data, _ = master.issue("master01", PASSWORD)  # the browser keeps its session cookie
    certificate = _certificate(data)
    dbsession.rollback()  # a fresh snapshot (SQLite keeps the old one)
    row = dbsession.scalars(select(Certificate)).one()
    revoke(dbsession, row, reason="privilegeWithdrawn", actor="bank01", now=dt.datetime.now(dt.UTC))
    dbsession.commit()
    assert master.app.cookies

    started = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="core"):
        served = master.app.get(f"/crl/{_slug(app)}.crl")
    assert time.perf_counter() - started < 5
    assert "CRL refresh failed" not in caplog.text
    assert "lists 0 certificates, the database 1" in caplog.text
    crl = x509.load_der_x509_crl(served.body)
    assert _reason(crl, certificate) == x509.ReasonFlags.privilege_withdrawn
