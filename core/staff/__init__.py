"""The bank staff's application (the back office): its identity, its permission, its first screen.

Built by ``core.app.make_app(settings, kind="staff")`` from the same plugins and settings as the
customer app, but composed apart: no customer service hours, no module enablement guard, no customer
session or certificate login, and none of the customer routes.

PLACEHOLDER, to be replaced by the back-office issue (#14): the staff identity is the WSGI environ
key ``cjs.staff_id``, which only code running in the server process can set (an HTTP header arrives
as ``HTTP_…`` and cannot). Nothing sets it yet, so in a deployment every staff request is refused:
the policy fails closed. Tests set it to stand for a logged-in staff member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.security import Allowed, Denied
from pyramid.view import forbidden_view_config, view_config

from core.hookspecs import StaffPermission
from core.plugins import get_modules

#: The environ key that carries the staff member's ID (placeholder, see the module docstring).
STAFF_ENVIRON_KEY = "cjs.staff_id"


@dataclass(frozen=True)
class StaffIdentity:
    """An authenticated bank staff member."""

    staff_id: str


class StaffSecurityPolicy:
    """Placeholder policy: the identity is ``environ["cjs.staff_id"]``; no identity, no permission."""

    def identity(self, request: Request) -> StaffIdentity | None:
        """The staff member the server vouches for, or None."""
        staff_id = request.environ.get(STAFF_ENVIRON_KEY)
        return StaffIdentity(staff_id) if isinstance(staff_id, str) and staff_id else None

    def authenticated_userid(self, request: Request) -> str | None:
        """The staff ID."""
        identity = request.identity
        return identity.staff_id if identity is not None else None

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        """Every :class:`~core.hookspecs.StaffPermission` to a staff member; nothing else to anyone."""
        if request.identity is None:
            return Denied("no staff identity")
        if permission in set(StaffPermission):
            return Allowed("staff")
        return Denied(f"unknown permission {permission!r}")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        """Nothing to remember: the identity comes with every request."""
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        """Nothing to forget."""
        return []


@view_config(
    route_name="staff_home",
    renderer="staff/home.html",
    permission=StaffPermission.USE,
    request_method="GET",
)
def staff_home(request: Request) -> dict[str, Any]:
    """The staff app's first screen (a placeholder for #14): who is in, and the modules."""
    return {
        "staff_id": request.identity.staff_id,
        "modules": list(get_modules(request.registry).modules.values()),
    }


@forbidden_view_config()
def staff_forbidden(request: Request) -> HTTPForbidden:
    """No staff identity, or not allowed: 403, never the customer's top page."""
    return HTTPForbidden()


def includeme(config: Configurator) -> None:
    """The staff security policy, ``/staff/``, the forbidden view and the modules' staff screens."""
    config.set_security_policy(StaffSecurityPolicy())
    config.add_route("staff_home", "/staff/")
    config.scan("core.staff")
    get_modules(config.registry).configure_staff_routes(config)
