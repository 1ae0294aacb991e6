"""The bank staff's application (the back office): its identity, its permission, its first screen.

Built by ``core.app.make_app(settings, kind="staff")`` from the same plugins and settings as the
customer app, but composed apart: no customer service hours, no module enablement guard, no customer
session or certificate login, and none of the customer routes.

PLACEHOLDER, to be replaced by the back-office issue (#14): the staff identity is the WSGI environ
keys ``cjs.staff_id`` and ``cjs.staff_roles`` (comma-separated :class:`~core.staff.roles.StaffRole`
names), which only code running in the server process can set (an HTTP header arrives as ``HTTP_…``
and cannot). Nothing sets them yet, so in a deployment every staff request is refused: the policy
fails closed. Tests go through ``tests/staff_support.staff_client``, which stands for a signed-in
staff member with the roles it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import CookieCSRFStoragePolicy, get_csrf_token
from pyramid.events import BeforeRender
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.security import Allowed, Denied
from pyramid.view import forbidden_view_config, view_config

from core.hookspecs import StaffPermission
from core.plugins import get_modules
from core.staff.roles import StaffRole, parse_roles, permissions_of

#: The environ key that carries the staff member's ID (placeholder, see the module docstring).
STAFF_ENVIRON_KEY = "cjs.staff_id"
#: The environ key that carries the staff member's roles (placeholder, see the module docstring).
STAFF_ROLES_ENVIRON_KEY = "cjs.staff_roles"


@dataclass(frozen=True)
class StaffIdentity:
    """An authenticated bank staff member and the roles the account holds."""

    staff_id: str
    roles: frozenset[StaffRole] = frozenset()

    @property
    def permissions(self) -> frozenset[StaffPermission]:
        """What the roles permit."""
        return permissions_of(self.roles)


class StaffSecurityPolicy:
    """Placeholder policy: the identity is ``environ["cjs.staff_id"]`` with the roles of
    ``environ["cjs.staff_roles"]``; no identity, no permission; a permission only through a role."""

    def identity(self, request: Request) -> StaffIdentity | None:
        """The staff member the server vouches for, or None (also for an unknown role: fail closed)."""
        staff_id = request.environ.get(STAFF_ENVIRON_KEY)
        if not isinstance(staff_id, str) or not staff_id:
            return None
        try:
            roles = parse_roles(str(request.environ.get(STAFF_ROLES_ENVIRON_KEY, "")))
        except ValueError:
            return None
        return StaffIdentity(staff_id, roles)

    def authenticated_userid(self, request: Request) -> str | None:
        """The staff ID."""
        identity = request.identity
        return identity.staff_id if identity is not None else None

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        """A :class:`~core.hookspecs.StaffPermission` one of the staff member's roles grants."""
        identity = request.identity
        if identity is None:
            return Denied("no staff identity")
        if permission in identity.permissions:
            return Allowed(f"staff role grants {permission}")
        return Denied(f"no role of {identity.staff_id} grants {permission!r}")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        """Nothing to remember: the identity comes with every request."""
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        """Nothing to forget."""
        return []


def _template_globals(event: BeforeRender) -> None:
    """What every staff screen may draw: the CSRF token for its forms."""
    request = event.get("request")
    if request is not None:
        event["csrf_token"] = lambda: get_csrf_token(request)


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
    """The staff security policy, the menu, ``/staff/``, the forbidden view and the modules' staff
    screens."""
    config.set_security_policy(StaffSecurityPolicy())
    # Placeholder until staff sessions exist (#14): the CSRF token in a cookie of its own, checked
    # on every unsafe request as in the customer app.
    config.set_csrf_storage_policy(
        CookieCSRFStoragePolicy(cookie_name="cjs_staff_csrf", secure=True, samesite="Strict")
    )
    config.set_default_csrf_options(require_csrf=True)
    config.add_subscriber(_template_globals, BeforeRender)
    config.include("core.staff.menu")
    config.include("core.staff.requests")
    config.include("core.staff.audit")
    config.include("core.staff.manuals")
    config.include("core.staff.contracts")
    config.include("core.staff.content")
    config.add_static_view("static", "templates:static", cache_max_age=3600)
    config.add_route("staff_home", "/staff/")
    config.scan("core.staff")
    get_modules(config.registry).configure_staff_routes(config)
