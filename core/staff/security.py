"""Who is signed in on the staff application, and what they may do (#14, AUTH-6, AUTH-8).

A sign-in binds the staff session (its own cookie and rows: ``core.security.sessions``) to the staff
member and the certificate of the staff profile it was made with. On every request the identity is
re-established: the browser must present that certificate, still valid, unexpired and unrevoked, and
the member must be neither blocked (by the lockout or an administrator) nor disabled; otherwise the
session ends at once. The roles are read from the member's row on every request, so a change of
roles applies at the next request. A member whose password is temporary may only change it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.request import Request
from pyramid.security import Allowed, Denied
from pyramid.view import forbidden_view_config

from core import clock
from core.hookspecs import StaffPermission
from core.staff.accounts import certificate_problem, presented_certificate, roles_of
from core.staff.roles import StaffRole, permissions_of

#: The session key of a signed-in staff member: ``{"staff_pk": …, "certificate_id": …}``.
STAFF_AUTH_KEY = "staff_auth"
#: The one permission of a member whose password is temporary: changing it (staff only, not a
#: module's business, hence not a :class:`~core.hookspecs.StaffPermission`).
CHANGE_OWN_PASSWORD = "staff:password:change"  # noqa: S105 (a permission name)


class SignedOutReason(enum.StrEnum):
    """Why the entrance screen is shown, for its message."""

    TIMEOUT = "timeout"
    CERTIFICATE = "certificate"
    SIGNED_OUT = "signed_out"


@dataclass(frozen=True)
class StaffIdentity:
    """An authenticated bank staff member and the roles the account holds."""

    staff_id: str
    roles: frozenset[StaffRole] = frozenset()
    #: The member's row (``staff_members.id``).
    pk: int = 0
    #: A temporary password must be changed before anything else.
    must_change_password: bool = False

    @property
    def permissions(self) -> frozenset[StaffPermission]:
        """What the roles permit."""
        return permissions_of(self.roles)


class StaffSecurityPolicy:
    """Pyramid 2 security policy over the staff session and the presented staff certificate."""

    def identity(self, request: Request) -> StaffIdentity | None:
        """The signed-in staff member, re-checked on every request; a failed check ends the
        session."""
        auth = request.session.get(STAFF_AUTH_KEY)
        if not auth:
            return None
        certificate = presented_certificate(request)
        if (
            certificate is None
            or certificate.id != auth.get("certificate_id")
            or certificate.staff_pk != auth.get("staff_pk")
            or certificate_problem(certificate, clock.now(request.registry)) is not None
        ):
            request.session.invalidate()
            request.environ["cjs.forbidden_reason"] = SignedOutReason.CERTIFICATE
            return None
        member = certificate.staff
        return StaffIdentity(
            member.staff_id, roles_of(member), member.id, member.password_is_temporary
        )

    def authenticated_userid(self, request: Request) -> str | None:
        """The staff ID."""
        identity = request.identity
        return identity.staff_id if identity is not None else None

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        """A :class:`~core.hookspecs.StaffPermission` one of the member's roles grants, once the
        password is not temporary; :data:`CHANGE_OWN_PASSWORD` to anyone signed in."""
        identity = request.identity
        if identity is None:
            return Denied("no staff identity")
        if permission == CHANGE_OWN_PASSWORD:
            return Allowed("signed in")
        if identity.must_change_password:
            return Denied("temporary password must be changed first")
        if permission in identity.permissions:
            return Allowed(f"staff role grants {permission}")
        return Denied(f"no role of {identity.staff_id} grants {permission!r}")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        """Signing in binds the session (done by the sign-in flow)."""
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        """Signing out: the session row is deleted."""
        request.session.invalidate()
        return []


@forbidden_view_config()
def staff_forbidden(request: Request) -> Any:
    """Not signed in: to the sign-in; temporary password: to its change; else 403 (never the
    customer's top page)."""
    identity = request.identity
    if identity is None:
        reason = request.environ.get("cjs.forbidden_reason")
        if reason is None and getattr(request.session, "expired", False):
            reason = SignedOutReason.TIMEOUT
        if reason is not None:
            return HTTPFound(request.route_url("staff_entrance", _query={"reason": str(reason)}))
        return HTTPFound(request.route_url("staff_login.password"))
    if identity.must_change_password:
        return HTTPFound(request.route_url("staff_password"))
    return HTTPForbidden()
