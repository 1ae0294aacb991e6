"""How a test stands for a signed-in bank staff member on the staff application.

Every staff-app test goes through :func:`staff_client`: it creates the staff account if missing
(with the roles asked for), issues it a certificate of the CA's staff profile through the app's own
signer, and signs in for real (#14, AUTH-8): the certificate presented the way the TLS server hands
it to the application (``SSL_CLIENT_VERIFY`` / ``SSL_CLIENT_CERT``, as ``tests/conftest.Customer``
does), then the password on the sign-in screen. One sign-in per client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from webtest import TestApp

from core.auth.passwords import hash_password
from core.clock import now as clock_now
from core.db import get_session_factory
from core.db.models import CertificateStatus, StaffMember
from core.pki.signers import get_signer
from core.pki.staff import issue_staff_certificate
from core.staff.accounts import find_staff, roles_text
from core.staff.roles import StaffRole

HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
#: What a browser sends with every POST of the console (Pyramid's CSRF check compares it).
BROWSER_ORIGIN = {"HTTP_ORIGIN": "https://localhost"}
#: The password of every staff account the tests create (ACC-2's rules).
STAFF_PASSWORD = "Staff-Pass1"

#: Every role: the console as a member holding them all sees it.
ALL_ROLES = tuple(StaffRole)

#: Where an app's registry keeps the certificates issued here: staff ID → (serial, PEM), so that a
#: second client of the same member presents the same certificate instead of superseding it.
_CERTIFICATES = "tests.staff_certificates"


def staff_certificate(staff_app: Any, staff_id: str, roles: Iterable[StaffRole | str]) -> str:
    """The PEM of a valid staff certificate of ``staff_id``, creating the account (with
    :data:`STAFF_PASSWORD`, not temporary) when missing and giving it exactly ``roles``."""
    registry = staff_app.registry
    issued: dict[str, tuple[str, str]] = registry.setdefault(_CERTIFICATES, {})
    now = clock_now(registry)
    with get_session_factory(registry)() as db, db.begin():
        member = find_staff(db, staff_id)
        if member is None:
            member = StaffMember(
                staff_id=staff_id,
                name="試験　職員",
                roles="",
                password_hash=hash_password(STAFF_PASSWORD),
                password_is_temporary=False,
                password_changed_at=now,
                created_at=now,
            )
            db.add(member)
        member.roles = roles_text(StaffRole(role) for role in roles)
        db.flush()
        known = issued.get(staff_id)
        if known is not None and any(
            c.serial == known[0] and c.status == CertificateStatus.VALID
            for c in member.certificates
        ):
            return known[1]
        new = issue_staff_certificate(
            db, get_signer(registry), member, STAFF_PASSWORD, now=now, actor="test", kdf_rounds=1000
        )
        _, certificate, _ = pkcs12.load_key_and_certificates(new.pkcs12, STAFF_PASSWORD.encode())
        assert certificate is not None
        pem = certificate.public_bytes(Encoding.PEM).decode()
        issued[staff_id] = (new.certificate.serial, pem)
        return pem


def sign_in(client: TestApp, password: str = STAFF_PASSWORD) -> Any:
    """The staff sign-in (certificate, then the password screen); returns the answer to the
    password: a redirect to the home screen (or the password change) when it succeeded."""
    page = client.get("/staff/login", {"restart": "1"}).maybe_follow()
    form = page.forms["staff-login-form"]
    form["password"] = password
    return form.submit()


def staff_client(
    staff_app: Any,
    staff_id: str = "staff01",
    roles: Iterable[StaffRole | str] = (StaffRole.OPERATOR,),
) -> TestApp:
    """A WebTest client of ``staff_app`` signed in as ``staff_id`` holding ``roles``, sending the
    console's Origin as a browser does. Forms carry the CSRF token: submit them with WebTest's
    ``page.forms[…].submit()``, or post :func:`csrf_token`'s value."""
    pem = staff_certificate(staff_app, staff_id, roles)
    client = TestApp(
        staff_app,
        extra_environ={
            **HTTPS,
            **BROWSER_ORIGIN,
            "SSL_CLIENT_VERIFY": "SUCCESS",
            "SSL_CLIENT_CERT": pem,
        },
    )
    answer = sign_in(client)
    assert answer.status_int == 302, answer.text
    assert answer.location.endswith(("/staff/", "/staff/password")), answer.location
    return client


def csrf_token(client: TestApp) -> str:
    """The CSRF token of ``client``'s staff session (from the sign-out form of every screen)."""
    page = client.get("/staff/password")
    return str(page.forms["staff-logout-form"]["csrf_token"].value)


def anonymous_staff_client(staff_app: Any) -> TestApp:
    """A WebTest client of ``staff_app`` that has not signed in."""
    return TestApp(staff_app, extra_environ=dict(HTTPS))
