"""Staff sign-in (#14, AUTH-1, AUTH-2, AUTH-8, CERT-6): a certificate of the CA's staff profile plus
a password with the customers' lockout, as a pipeline of the same steps; staff sessions of their own;
the two applications keep each other's certificates and sessions out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import MASTER, Customer
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from sqlalchemy import select
from webtest import TestApp

from core import clock
from core.app import close_app, make_app
from core.auth import lockout
from core.db import get_session_factory
from core.db.models import AuditEvent, StaffCertificate, StaffMember
from core.pki.crl import revoked_certificates
from core.pki.signers import get_signer
from core.security.client_cert import is_staff_profile
from core.security.sessions import COOKIE_NAME, STAFF_COOKIE_NAME
from core.staff import accounts
from core.staff.roles import StaffRole
from tests.staff_support import (
    BROWSER_ORIGIN,
    HTTPS,
    STAFF_PASSWORD,
    sign_in,
    staff_certificate,
    staff_client,
)

NOT_STAFF = "この電子証明書は職員用画面ではご利用いただけません。"


@pytest.fixture
def staff_app(app_settings: dict[str, str], app: Any) -> Iterator[Any]:
    """The staff app on the same database as the customer app ``app``."""
    staff = make_app(app_settings, kind="staff")
    try:
        yield staff
    finally:
        close_app(staff)


def _browser(staff_app: Any, pem: str | None = None) -> TestApp:
    environ = {**HTTPS, **BROWSER_ORIGIN}
    if pem is not None:
        environ |= {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": pem}
    return TestApp(staff_app, extra_environ=environ)


def _db(staff_app: Any) -> Any:
    return get_session_factory(staff_app.registry)()


def _member(staff_app: Any, staff_id: str) -> StaffMember:
    with _db(staff_app) as db:
        member = accounts.find_staff(db, staff_id)
        assert member is not None
        db.expunge(member)
        return member


def _customer_certificate(customer: Customer) -> str:
    """Register the demo contract's master, issue its certificate; the PEM it presents."""
    customer.register_master()
    p12, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    certificate = customer.use_certificate(p12, MASTER["password"])
    return str(certificate.public_bytes(Encoding.PEM).decode())


def test_a_staff_member_signs_in_with_the_staff_certificate_and_the_password(staff_app):
    """AUTH-8: the pipeline client_cert + password of the staff app; the session is the staff's."""
    pem = staff_certificate(staff_app, "clerk01", [StaffRole.OPERATOR])
    browser = _browser(staff_app, pem)
    page = browser.get("/staff/login").maybe_follow()
    assert "職員用の電子証明書を確認しました" in page.text
    page.forms["staff-login-form"]["password"] = STAFF_PASSWORD
    home = page.forms["staff-login-form"].submit().maybe_follow()
    assert home.html.find(id="staff-id").text == "clerk01"
    assert home.html.find(id="staff-roles").text == "取扱者"
    assert STAFF_COOKIE_NAME in browser.cookies and COOKIE_NAME not in browser.cookies
    with _db(staff_app) as db:
        actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.actor == "clerk01")))
    assert {"staff_login.password", "staff.login.success"} <= actions
    # Signing out ends the session on the server.
    home.forms["staff-logout-form"].submit()
    assert browser.get("/staff/").location == "https://localhost/staff/login"


def test_a_wrong_password_counts_towards_the_customers_lockout(staff_app):
    """AUTH-1: six failures lock for 60 minutes, counted in the row (never in memory); even the right
    password is refused while locked; an administrator's unlock clears it (AUTH-2)."""
    pem = staff_certificate(staff_app, "clerk02", [StaffRole.OPERATOR])
    browser = _browser(staff_app, pem)
    for attempt in range(1, lockout.FAILURES_PER_LOCK):
        page = sign_in(browser, "Wrong-Pass1")
        assert "パスワードが正しくありません。" in page.text
        assert _member(staff_app, "clerk02").failed_count == attempt
    page = sign_in(browser, "Wrong-Pass1")
    assert "ロックされています" in page.text
    assert _member(staff_app, "clerk02").locked_until is not None
    assert "ロックされています" in sign_in(browser, STAFF_PASSWORD).text
    with _db(staff_app) as db, db.begin():
        member = accounts.find_staff(db, "clerk02")
        accounts.unlock_staff(db, member, actor="admin01")
    assert sign_in(browser, STAFF_PASSWORD).location == "https://localhost/staff/"


def test_customer_certificates_do_not_authenticate_on_the_staff_app(staff_app, customer):
    """#14 acceptance: a customer's certificate is unknown to the staff app's sign-in."""
    browser = _browser(staff_app, _customer_certificate(customer))
    page = browser.get("/staff/login").maybe_follow()
    assert NOT_STAFF in page.text
    assert "staff-login-form" not in page.forms
    with _db(staff_app) as db:
        refused = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff_login.certificate")
        ).one()
    assert refused.result == "refused"
    assert refused.details == {"problem": "unknown"}


def test_staff_certificates_do_not_log_in_as_customers(staff_app, customer, dbsession):
    """#14 acceptance: the customer login refuses a certificate of the staff profile, even when
    a customer certificate row had the same serial (it never should: fail closed on the profile)."""
    pem = staff_certificate(staff_app, "clerk03", [StaffRole.OPERATOR])
    assert is_staff_profile(x509.load_pem_x509_certificate(pem.encode()))
    customer.app.extra_environ |= {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": pem}
    page = customer.app.get("/login").maybe_follow()
    assert "この電子証明書はご利用いただけません。" in page.text
    refused = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "login.certificate")
    ).one()
    assert (refused.result, refused.details) == ("refused", {"problem": "unknown"})


def test_no_certificate_no_sign_in(staff_app):
    page = _browser(staff_app).get("/staff/login").maybe_follow()
    assert "職員用の電子証明書が確認できませんでした。" in page.text


def test_a_revoked_staff_certificate_ends_the_session_and_joins_the_crl(staff_app):
    """CERT-6: revoked through the revocation service, refused at the next request, in the CRL."""
    client = staff_client(staff_app, "clerk04", [StaffRole.APPROVER])
    client.get("/staff/", status=200)
    now = clock.now(staff_app.registry)
    with _db(staff_app) as db, db.begin():
        certificate = db.scalars(select(StaffCertificate)).one()
        assert accounts.revoke_certificate(
            db, certificate, reason="keyCompromise", now=now, actor="admin01"
        )
    assert client.get("/staff/").location == "https://localhost/staff/login"  # session ended
    page = client.get("/staff/login").maybe_follow()
    assert "この電子証明書は失効しています。" in page.text
    ca = get_signer(staff_app.registry).ca_certificate
    with _db(staff_app) as db:
        listed = revoked_certificates(db, ca, now + dt.timedelta(seconds=1))
    assert [row.serial for row in listed] == [certificate.serial]


def test_a_temporary_password_is_changed_at_the_first_sign_in(staff_app):
    """The password an administrator's creation gave is temporary: nothing but its change."""
    client = staff_client(staff_app, "clerk05", [StaffRole.OPERATOR])
    with _db(staff_app) as db, db.begin():
        accounts.find_staff(db, "clerk05").password_is_temporary = True
    assert client.get("/staff/").location == "https://localhost/staff/password"
    page = client.get("/staff/password")
    assert "仮のパスワードでサインインしました。" in page.text
    form = page.forms["staff-password-form"]
    form["current_password"] = STAFF_PASSWORD
    form["new_password"] = "short"
    form["new_password_confirm"] = "short"
    page = form.submit()
    assert "8～12文字" in page.text  # the screen again, the message at the field
    form = page.forms["staff-password-form"]
    form["current_password"] = STAFF_PASSWORD
    form["new_password"] = form["new_password_confirm"] = "Fresh-Pass2"
    home = form.submit().maybe_follow()
    assert "パスワードを変更しました。" in home.text
    assert not _member(staff_app, "clerk05").password_is_temporary


def test_a_customer_session_cookie_means_nothing_to_the_staff_app(staff_app, customer):
    """The sessions of the two apps are apart: a customer's token in the staff cookie is unknown."""
    customer.register_master()
    p12, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.use_certificate(p12, MASTER["password"])
    customer.login(MASTER["password"])
    token = customer.app.cookies[COOKIE_NAME]
    browser = _browser(staff_app)
    browser.set_cookie(STAFF_COOKIE_NAME, token)
    assert browser.get("/staff/").location == "https://localhost/staff/login"


def test_a_staff_pkcs12_holds_a_certificate_of_the_staff_profile(staff_app):
    now = clock.now(staff_app.registry)
    with _db(staff_app) as db, db.begin():
        member, password = accounts.create_staff(
            db,
            staff_id="admin09",
            name="管理　花子",
            roles=[StaffRole.ADMINISTRATOR],
            now=now,
            actor="test",
        )
        issued = accounts.issue_certificate(
            db, get_signer(staff_app.registry), member, password, now=now, actor="test"
        )
    _, certificate, _ = pkcs12.load_key_and_certificates(issued.pkcs12, password.encode())
    assert certificate is not None and is_staff_profile(certificate)
    subject = certificate.subject.rfc4514_string()
    assert "CN=admin09" in subject and "OU=CJS staff" in subject


def test_the_staff_app_answers_only_its_own_host(app_settings):
    """cjs.staff.service_url: the guard checks the staff app's Host against its own public URL, not
    the customers' (#12's guard, per app)."""
    settings = {
        **app_settings,
        "cjs.service_url": "https://cjs.example.jp/",
        "cjs.staff.service_url": "https://staff.example.jp:9443/",
    }
    staff = make_app(settings, kind="staff")
    try:
        customer_host = {"wsgi.url_scheme": "https", "HTTP_HOST": "cjs.example.jp"}
        TestApp(staff, extra_environ=customer_host).get("/staff/entrance", status=400)
        own_host = {"wsgi.url_scheme": "https", "HTTP_HOST": "staff.example.jp:9443"}
        response = TestApp(staff, extra_environ=own_host).get("/staff/", status=302)
        assert response.location == "https://staff.example.jp:9443/staff/login"
    finally:
        close_app(staff)
