"""Sign-up, certificate issuance and client-certificate login over real TLS, both ways CJS is deployed.

Every test runs twice (``deployment`` fixture, tests/e2e/conftest.py): ``direct`` — cheroot terminates
TLS itself; ``nginx`` — a real nginx from deploy/nginx.conf.template terminates TLS and forwards the
verified certificate in headers. The client is Python's ``ssl`` + ``http.client`` (no WebTest, no
mocks); the authentication code comes from the SMTP server the app really sent it to.

AUTH-5: only a certificate of our CA, unexpired, unrevoked, of a user that exists and is not blocked
reaches the password screen DC582101; with any other, or none, the top page explains what to do.
CERT-6: a revoked certificate is refused at the next request, not at the next login.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import MASTER
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from core.clock import set_clock
from core.pki.signers import get_signer
from core.security.client_cert import CERTIFICATE_REFUSED

pytestmark = pytest.mark.e2e

PASSWORD = MASTER["password"]
EMAIL = MASTER["email"]

#: For the tests that only make sense behind nginx: the ``deployment`` of that mode only.
NGINX_ONLY = pytest.mark.parametrize("e2e_servers", ["nginx"], indirect=True)

NO_CERTIFICATE = "電子証明書が確認できませんでした"
EXPIRED = "有効期限が切れています"
REVOKED = "失効しています"
SESSION_ENDED = "電子証明書が確認できなくなったため"


@dataclass
class Issued:
    """The master's certificate as the browser got it: the .p12, its name, and PEM files of it."""

    pkcs12: bytes
    filename: str
    certificate: x509.Certificate
    cert_file: Path
    key_file: Path


def register_master(deployment: Any) -> None:
    """FLOW-1: DC581101 → DC583101 (contract number + initial password) → DC584101 → result."""
    browser = deployment.client()
    page = browser.get("/register/master")
    assert page.status == 200 and "DC583101" in page.text
    assert page.form("contract_no", "initial_password").fields["csrf_token"]  # sent back by submit
    page = browser.submit(
        page,
        {"contract_no": MASTER["contract_no"], "initial_password": MASTER["initial_password"]},
    )
    assert "DC584101" in page.text and page.path == "/register/master/user", page.text
    page = browser.submit(
        page,
        {
            "user_id": MASTER["user_id"],
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "user_name": MASTER["user_name"],
            "email": EMAIL,
            "email_confirm": EMAIL,
        },
    )
    assert "マスターユーザーの登録を完了しました" in page.text, page.text


def issue_certificate(deployment: Any) -> Issued:
    """FLOW-2: DC586101 (user ID + password) → the emailed code → 発行 → result → .p12 download."""
    browser = deployment.client()
    page = browser.get("/cert")
    assert "DC586101" in page.text
    page = browser.submit(page, {"user_id": MASTER["user_id"], "password": PASSWORD})
    assert "認証コード" in page.text, page.text
    page = browser.submit(page, {"code": deployment.read_code(EMAIL)})
    assert page.path == "/cert/issue", page.text
    page = browser.submit(page, {})  # 発行
    assert page.path == "/cert/issuing" and "電子証明書発行中" in page.text, page.text
    page = browser.submit(page, {})  # 次へ (the screen's script sends it by itself)
    assert page.path == "/cert/result" and "電子証明書発行結果" in page.text, page.text
    download = browser.get("/cert/download")
    assert download.status == 200
    assert download.headers["Content-Type"].startswith("application/x-pkcs12")
    match = re.search(r'filename="(.+)"', download.headers["Content-Disposition"])
    assert match is not None
    key, certificate, chain = pkcs12.load_key_and_certificates(download.body, PASSWORD.encode())
    assert key is not None and certificate is not None
    assert [c.subject for c in chain] == [certificate.issuer]
    cert_file, key_file = deployment.save_pkcs12(download.body, PASSWORD)
    return Issued(download.body, match.group(1), certificate, cert_file, key_file)


def log_in(deployment: Any, issued: Issued) -> Any:
    """FLOW-4 over TLS with the certificate: /login → DC582101 → password → DC590101. The client."""
    browser = deployment.client(issued.cert_file, issued.key_file)
    page = browser.get("/login")
    assert "DC582101" in page.text, page.text
    page = browser.submit(page, {"password": PASSWORD})
    assert "DC590101" in page.text, page.text
    return browser


def choose_first_group(browser: Any, page: Any) -> Any:
    """DC590101: press 選択 on the first deposit group; returns DC671101."""
    first = page.form(id="groups-form").buttons[0]
    return browser.submit(page, form_id="groups-form", button=first)


@pytest.fixture
def issued(deployment: Any) -> Issued:
    """The demo member contract's master, registered, with a certificate issued through /cert."""
    register_master(deployment)
    return issue_certificate(deployment)


# --- The way in ----------------------------------------------------------------------------------


def test_register_issue_and_log_in_with_the_issued_certificate(deployment, issued):
    """FLOW-1, FLOW-2, FLOW-4 and AUTH-5 over real TLS: the .p12 from /cert/download, loaded with
    cryptography, is presented in the TLS handshake and names the user at DC582101."""
    assert re.fullmatch(r"master01\d{14}\.p12", issued.filename)  # CERT-3
    common_name = issued.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert common_name[0].value == "master01"  # CERT-2
    ca = x509.load_pem_x509_certificate(deployment.ca_file.read_bytes())
    issued.certificate.verify_directly_issued_by(ca)

    browser = log_in(deployment, issued)
    page = browser.get("/groups")
    assert "DC590101" in page.text and "労金控除(明細更新)・賃金控除元帳・一斉積立" in page.text
    page = choose_first_group(browser, page)
    assert "DC671101" in page.text and "今回が初めてのログインです。" in page.text

    # What reached the app: the verified certificate, as the deployment hands it over.
    login = [r for r in deployment.requests if r.path.startswith("/login")][-1]
    presented = issued.certificate.public_bytes(serialization.Encoding.PEM).decode()
    if deployment.mode == "direct":
        assert login.headers["SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert login.headers["SSL_CLIENT_CERT"].strip() == presented.strip()
        assert "HTTP_X_SSL_CLIENT_VERIFY" not in login.headers
    else:
        assert login.headers["HTTP_X_SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert urllib.parse.unquote(login.headers["HTTP_X_SSL_CLIENT_CERT"]) == presented
        assert login.headers["HTTP_X_FORWARDED_PROTO"] == "https"
        assert "SSL_CLIENT_VERIFY" not in login.headers  # plain HTTP between nginx and the app


def test_the_session_cookie_is_secure_over_either_deployment(deployment, issued):
    """AUTH-6 behind nginx too: X-Forwarded-Proto makes the app build https URLs for the public
    host and port (forms post back to it) and the session cookie keeps its __Host- prefix."""
    browser = deployment.client(issued.cert_file, issued.key_file)
    page = browser.get("/login")
    action = page.form("password").action
    assert action.startswith(deployment.base_url + "/login"), action
    cookies = page.headers.get_all("Set-Cookie") or []
    for previous in page.history:
        cookies += previous.headers.get_all("Set-Cookie") or []
    session = [c for c in cookies if c.startswith("__Host-cjs_session=")]
    assert session
    for cookie in session:
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite"} <= attributes, cookie
        assert "domain" not in attributes, cookie  # __Host-: no Domain, Path=/


# --- Refusals (AUTH-5) ---------------------------------------------------------------------------


def test_without_a_client_certificate_login_never_reaches_dc582101(deployment, issued):
    """AUTH-5: no certificate → the top page DC581101 explains; DC582101 is never shown."""
    page = deployment.client().get("/login")
    assert page.path == "/" and "DC581101" in page.text
    assert NO_CERTIFICATE in page.text
    assert "DC582101" not in page.text
    # A POST of the password without a certificate gets nowhere either.
    page = deployment.client().post("/login/password", {"password": PASSWORD})
    assert "DC582101" not in page.text and "DC590101" not in page.text


def _expired_certificate(deployment: Any) -> tuple[Path, Any]:
    """A certificate of our CA for master01 that ended 34 days ago, in the database as VALID."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from sqlalchemy import select

    from core.db.models import Certificate, CertificateStatus, User
    from core.pki.certificates import build_client_certificate, client_subject
    from core.pki.x509 import random_serial

    signer = get_signer(deployment.app.registry)
    issued_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    key = ec.generate_private_key(ec.SECP256R1())
    with deployment.db() as db:
        user = db.scalars(select(User).where(User.user_id == MASTER["user_id"])).one()
        builder = build_client_certificate(
            signer.ca_certificate,
            key.public_key(),
            client_subject(user),
            random_serial(),
            issued_at,
        )
        certificate = signer.sign_certificate(builder)
        db.add(
            Certificate(
                serial=format(certificate.serial_number, "x"),
                user=user,
                issuer=certificate.issuer.rfc4514_string(),
                subject=certificate.subject.rfc4514_string(),
                fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
                status=CertificateStatus.VALID,
                issued_at=issued_at,
            )
        )
        db.commit()
    assert certificate.not_valid_after_utc < dt.datetime.now(dt.UTC)
    return deployment.write_pem("expired", certificate, key), certificate


def test_an_expired_certificate_never_reaches_dc582101(deployment):
    """AUTH-5: an expired certificate of our CA (in the database, still VALID there). The TLS layer
    verifies validity itself: cheroot (Python ssl) aborts the handshake; nginx
    (``ssl_verify_client optional``) answers 400 itself. Either way the app never sees it."""
    register_master(deployment)
    pem, _certificate = _expired_certificate(deployment)
    browser = deployment.client(pem)
    seen = len(deployment.requests)
    logged = len(deployment.nginx.access_lines()) if deployment.nginx else 0
    if deployment.mode == "direct":
        # TLS 1.2, so that the server's alert arrives within the handshake (in TLS 1.3 the client
        # meets it, or an EOF, only at its first read).
        browser.context.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError) as refused:
            browser.get("/login")
        assert "CERTIFICATE_EXPIRED" in str(refused.value).upper()
        browser.context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
        with pytest.raises((ssl.SSLError, ConnectionError)):
            browser.get("/login")
    else:
        page = browser.get("/login")
        assert page.status == 400 and "DC582101" not in page.text
        assert "SSL certificate error" in page.text  # nginx's own page
        line = deployment.nginx.wait_for_access(lambda line: '" 400 ' in line, logged)
        assert 'verify="FAILED:certificate has expired"' in line, line
    assert len(deployment.requests) == seen, deployment.requests[seen:]


def test_a_certificate_the_app_finds_expired_never_reaches_dc582101(deployment, issued):
    """AUTH-5, the application's own check: the TLS layer accepts the certificate (its time is the
    real time) but the app's clock is past its notAfter: the top page says it has expired."""
    now = dt.datetime.now(dt.UTC)
    set_clock(deployment.app.registry, lambda: now + dt.timedelta(days=367))
    page = deployment.client(issued.cert_file, issued.key_file).get("/login")
    assert page.path == "/" and "DC581101" in page.text and "DC582101" not in page.text
    assert EXPIRED in page.text


def test_a_revoked_certificate_is_refused_and_its_open_session_ends(deployment, issued):
    """CERT-6 and AUTH-5: revoked (core.pki.certificates.revoke, committed) → the open session ends at
    its next request, and /login never reaches DC582101 again (失効しています)."""
    from sqlalchemy import select

    from core.db.models import Certificate
    from core.pki.certificates import revoke

    browser = log_in(deployment, issued)
    page = choose_first_group(browser, browser.get("/groups"))
    assert "DC671101" in page.text, page.text
    assert "DC671101" in browser.get("/info").text

    with deployment.db() as db:
        row = db.scalars(select(Certificate)).one()
        assert revoke(
            db,
            row,
            reason="keyCompromise",
            actor="bank01",
            actor_kind="staff",
            now=dt.datetime.now(dt.UTC),
        )
        db.commit()

    page = browser.get("/info")  # the very next request of the open session
    assert page.path == "/" and "DC581101" in page.text and "DC671101" not in page.text
    assert SESSION_ENDED in page.text
    page = browser.get("/login")
    assert "DC582101" not in page.text and REVOKED in page.text


#: The alert cheroot's OpenSSL sends for each foreign certificate (TLS 1.2): a CA of our name is
#: found but its signature does not verify; a CA of another name is not found at all.
FOREIGN_ALERTS = {"same-name": "ALERT_DECRYPT_ERROR", "other-name": "ALERT_UNKNOWN_CA"}


@pytest.mark.parametrize("which", sorted(FOREIGN_ALERTS))
def test_a_certificate_of_a_foreign_ca_is_stopped_before_the_app(
    deployment, foreign_client_certificates, which
):
    """AUTH-5: a certificate for master01 from another CA (one copying our CA's name, one not).
    Direct: the handshake is refused. nginx (``ssl_verify_client optional``): nginx answers 400
    itself. No request reaches the application."""
    browser = deployment.client(foreign_client_certificates[which])
    seen = len(deployment.requests)
    logged = len(deployment.nginx.access_lines()) if deployment.nginx else 0
    if deployment.mode == "direct":
        browser.context.maximum_version = ssl.TLSVersion.TLSv1_2  # the alert within the handshake
        with pytest.raises(ssl.SSLError) as refused:
            browser.get("/login")
        assert FOREIGN_ALERTS[which] in str(refused.value).upper()
        browser.context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
        with pytest.raises((ssl.SSLError, ConnectionError)):
            browser.get("/login")
    else:
        page = browser.get("/login")
        assert page.status == 400 and "DC582101" not in page.text
        assert "SSL certificate error" in page.text  # nginx's own page
        line = deployment.nginx.wait_for_access(lambda line: '" 400 ' in line, logged)
        assert 'verify="FAILED:' in line, line  # nginx's verdict, logged by the template's format
    assert len(deployment.requests) == seen, deployment.requests[seen:]
    # The server keeps serving others.
    assert "DC581101" in deployment.client().get("/").text


# --- Forged proxy headers ------------------------------------------------------------------------


def _forged_headers(certificate: x509.Certificate) -> dict[str, str]:
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return {
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-Cert": urllib.parse.quote(pem, safe=""),
    }


def test_forged_client_certificate_headers_are_never_believed(deployment, issued):
    """AUTH-5: a client without the private key sends the master's real certificate in the proxy
    headers (also spelled with underscores, which WSGI maps to the same environ key). Behind nginx
    they are overwritten (NONE) or dropped; on direct TLS the app refuses proxy headers from a peer
    that is not a trusted proxy (400). DC582101 is never reached."""
    forged = _forged_headers(issued.certificate)
    underscored = {name.replace("-", "_"): value for name, value in forged.items()}
    for headers in (forged, underscored):
        browser = deployment.client()
        seen = len(deployment.requests)
        page = browser.get("/login", headers=headers)
        assert "DC582101" not in page.text
        reached = deployment.requests[seen:]
        if deployment.mode == "direct":
            assert page.status == 400
            assert CERTIFICATE_REFUSED in page.text  # the guard's page (#12)
        else:
            assert page.status == 200 and NO_CERTIFICATE in page.text
            assert reached and all(
                r.headers.get("HTTP_X_SSL_CLIENT_VERIFY") == "NONE"
                and "HTTP_X_SSL_CLIENT_CERT" not in r.headers
                for r in reached
            ), reached


@NGINX_ONLY
def test_nginx_replaces_a_forged_certificate_with_the_presented_one(deployment, issued):
    """Behind nginx: a client presenting its own valid certificate and forging another one in the
    header is seen with the one it presented (nginx overwrites the header). On direct TLS such
    headers are refused (test above)."""
    other = x509.load_pem_x509_certificate(deployment.ca_file.read_bytes())  # any other PEM
    browser = deployment.client(issued.cert_file, issued.key_file)
    seen = len(deployment.requests)
    page = browser.get("/login", headers=_forged_headers(other))
    assert "DC582101" in page.text
    presented = issued.certificate.public_bytes(serialization.Encoding.PEM).decode()
    for r in deployment.requests[seen:]:
        assert urllib.parse.unquote(r.headers["HTTP_X_SSL_CLIENT_CERT"]) == presented


@NGINX_ONLY
def test_the_app_port_refuses_proxy_headers_from_an_untrusted_address(deployment, issued):
    """AUTH-5 behind nginx: the app trusts 127.0.0.1 only (cjs.proxy.trusted); a client on another
    address (127.0.0.2, also loopback) that reaches the app's plain HTTP port with the proxy
    headers gets 400 from the app itself; without them it is an ordinary visitor."""
    host, port = deployment.app_address

    def call(headers: dict[str, str]) -> tuple[int, str]:
        connection = http.client.HTTPConnection(
            host, port, timeout=10, source_address=("127.0.0.2", 0)
        )
        try:
            connection.request("GET", "/login", headers={"Host": "localhost", **headers})
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    status, body = call({**_forged_headers(issued.certificate), "X-Forwarded-Proto": "https"})
    assert status == 400 and CERTIFICATE_REFUSED in body
    assert deployment.requests[-1].remote_addr == "127.0.0.2"
    status, body = call({"X-Forwarded-Proto": "https"})
    assert status == 400  # X-Forwarded-Proto is a proxy header too
    status, body = call({})
    assert status in {200, 302} and "DC582101" not in body


def test_a_forged_client_address_never_reaches_the_audit_log(deployment):
    """With AUTH-5's proxy headers: the audit log records the client's address (WebOb's
    client_addr, which reads X-Forwarded-For); a client-sent X-Forwarded-For is dropped on direct
    TLS (no trusted proxy) and overwritten by nginx with the real peer address."""
    from sqlalchemy import select

    from core.db.models import AuditEvent

    page = deployment.client().get("/login", headers={"X-Forwarded-For": "203.0.113.9"})
    assert NO_CERTIFICATE in page.text
    with deployment.db() as db:
        event = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "login.certificate")
            .order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None and event.client_addr == "127.0.0.1"
