"""Who is logged in, and what they may do (AUTH-5, AUTH-6).

A login binds the session to the user *and* to the client certificate it was made with. On every
request the identity is re-established: the session must name a user that still exists and is not
blocked, and the browser must present the same certificate, still valid, unexpired and unrevoked.
Otherwise the session ends at once (a revoked certificate is refused at the next request, not at the
next login). A logged-in request also keeps the user's last-used language (``users.language``)
current, for the mails written when the user is not the one asking (docs/emails.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from pyramid.authorization import ACLHelper
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.security import Allowed, Denied
from pyramid.view import forbidden_view_config
from sqlalchemy import select

from core import clock
from core.db.models import Certificate, CertificateStatus, Role, User
from core.security.client_cert import is_staff_profile

AUTH_KEY = "auth"


class Permission(enum.StrEnum):
    """Permissions, named ``scope:resource:action``."""

    #: Any logged-in user whose password is not temporary.
    USE = "customer:service:use"
    #: A logged-in user that must still replace a temporary password (FLOW-3).
    CHANGE_INITIAL_PASSWORD = "customer:password:initial"  # noqa: S105 (a permission name)
    #: The contract's master user (user administration, operation log).
    ADMINISTER = "customer:contract:administer"


@dataclass(frozen=True)
class Identity:
    """The logged-in user and the certificate its session is bound to."""

    user: User
    certificate: Certificate


class ForbiddenReason(enum.StrEnum):
    """Why a request has no identity, for the message on the top page."""

    TIMEOUT = "timeout"
    CERTIFICATE = "certificate"
    LOGGED_OUT = "logged_out"


def certificate_for(request: Request) -> Certificate | None:
    """The database row of the customer certificate this request presents, if it is one we issued.

    A certificate of the CA's staff profile never is (#14: staff certificates do not log in as
    customers, whatever the tables hold).
    """
    presented = request.client_certificate.certificate
    if presented is None or is_staff_profile(presented):
        return None
    from cryptography.hazmat.primitives import hashes

    fingerprint = presented.fingerprint(hashes.SHA256()).hex()
    return request.dbsession.scalars(
        select(Certificate).where(
            Certificate.serial == format(presented.serial_number, "x"),
            Certificate.fingerprint_sha256 == fingerprint,
        )
    ).one_or_none()


def certificate_problem(certificate: Certificate | None, now: Any) -> str | None:
    """Why ``certificate`` cannot log in (AUTH-5), or None: unknown, revoked, expired, user blocked."""
    if certificate is None:
        return "unknown"
    if certificate.status != CertificateStatus.VALID or certificate.user.deleted_at is not None:
        return "revoked"
    if not certificate.not_before <= now <= certificate.not_after:
        return "expired"
    if certificate.user.blocked_at is not None:
        return "blocked"
    return None


def remember_language(request: Request, user: User) -> None:
    """Keep ``user.language`` the language of the screens ``request`` is answered in (SPEC 8).

    Mails the user's own request did not cause are written in it (docs/emails.md); the row is
    written only when the language changed.
    """
    language = request.locale_name
    if user.language != language:
        user.language = language


class SessionSecurityPolicy:
    """Pyramid 2 security policy over the database session and the presented certificate."""

    def identity(self, request: Request) -> Identity | None:
        """The logged-in user, re-checked on every request; a failed check ends the session."""
        auth = request.session.get(AUTH_KEY)
        if not auth:
            return None
        certificate = certificate_for(request)
        now = clock.now(request.registry)
        if (
            certificate is None
            or certificate.id != auth.get("certificate_id")
            or certificate.user_pk != auth.get("user_pk")
            or certificate_problem(certificate, now) is not None
        ):
            request.session.invalidate()
            request.environ["cjs.forbidden_reason"] = ForbiddenReason.CERTIFICATE
            return None
        remember_language(request, certificate.user)
        return Identity(certificate.user, certificate)

    def authenticated_userid(self, request: Request) -> str | None:
        """The user ID of the logged-in user."""
        identity = request.identity
        return identity.user.user_id if identity is not None else None

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        """Grant the permissions of :class:`Permission` to the logged-in user as its state allows."""
        identity = request.identity
        if identity is None:
            return Denied("not logged in")
        user = identity.user
        if permission == Permission.CHANGE_INITIAL_PASSWORD:
            return Allowed("logged in")
        if user.password_is_temporary:
            return Denied("temporary password must be changed first")
        if permission == Permission.USE:
            return Allowed("logged in")
        if permission == Permission.ADMINISTER:
            return Allowed("master") if user.role == Role.MASTER else Denied("not the master")
        acl = getattr(context, "__acl__", None)
        if acl is not None:
            return ACLHelper().permits(context, [user.user_id], permission)
        return Denied(f"unknown permission {permission!r}")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        """Log in: a new session id bound to the user and its certificate (done by the login flow)."""
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        """Log out: the session row is deleted."""
        request.session.invalidate()
        return []


@forbidden_view_config()
def forbidden(request: Request) -> Any:
    """Not logged in: to the top page with the reason; temporary password: to the forced change."""
    identity = request.identity
    if identity is None:
        reason = request.environ.get("cjs.forbidden_reason")
        if reason is None and getattr(request.session, "expired", False):
            reason = ForbiddenReason.TIMEOUT
        query = {"reason": str(reason)} if reason else {}
        return HTTPFound(request.route_url("top", _query=query))
    if identity.user.password_is_temporary:
        return HTTPFound(request.route_url("password_initial"))
    request.response.status = 403
    from pyramid.renderers import render_to_response

    return render_to_response("forbidden.html", {}, request=request, response=request.response)


def includeme(config: Configurator) -> None:
    """Install the security policy and the forbidden view."""
    config.set_security_policy(SessionSecurityPolicy())
    config.scan("core.security.policy")
