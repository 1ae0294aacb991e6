"""The bank staff's application (the back office): its identity, its permission, its first screen.

Built by ``core.app.make_app(settings, kind="staff")`` from the same plugins and settings as the
customer app, but composed apart: no customer service hours, no module enablement guard, none of the
customer routes, and its own accounts, sessions and security policy (#14): staff members sign in at
``/staff/login`` with a certificate of the CA's staff profile and a password (``core.staff.signin``),
into a session of their own (``core.security.sessions``, cookie ``__Host-cjs_staff_session``);
``core.staff.security`` re-checks the certificate and reads the roles on every request. It is
served on its own listener (``cjs serve --staff``, ``cjs.staff.listen``) at its own public URL
(``cjs.staff.service_url``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.events import BeforeRender
from pyramid.request import Request
from pyramid.view import view_config

from core import clock
from core.hookspecs import StaffPermission
from core.plugins import get_modules
from core.security.sessions import STAFF_COOKIE_NAME, session_factory_for
from core.staff.security import StaffIdentity, StaffSecurityPolicy

__all__ = ["StaffIdentity", "includeme"]


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
    """The staff app's first screen: who is in, and the modules."""
    return {
        "staff_id": request.identity.staff_id,
        "modules": list(get_modules(request.registry).modules.values()),
        "notices": request.session.pop_flash("info"),
    }


def includeme(config: Configurator) -> None:
    """The staff security policy and sessions, the sign-in, the menu, ``/staff/``, the forbidden
    view and the modules' staff screens."""
    settings = config.get_settings()
    config.set_session_factory(
        session_factory_for(
            dt.timedelta(minutes=settings["cjs.staff.session.idle_minutes"]),
            dt.timedelta(hours=settings["cjs.staff.session.absolute_hours"]),
            lambda: clock.now(config.registry),
            app="staff",
            cookie_name=STAFF_COOKIE_NAME,
        )
    )
    config.set_security_policy(StaffSecurityPolicy())
    # The CSRF token lives in the staff session (Pyramid's default storage), checked on every
    # unsafe request as in the customer app.
    config.set_default_csrf_options(require_csrf=True)
    config.include("core.security.client_cert")
    config.include("core.staff.accounts")
    config.add_subscriber(_template_globals, BeforeRender)
    config.include("core.staff.menu")
    config.include("core.staff.signin")
    config.include("core.staff.requests")
    config.include("core.staff.audit")
    config.include("core.staff.manuals")
    config.include("core.staff.contracts")
    config.include("core.staff.content")
    config.include("core.staff.admin")
    config.add_static_view("static", "templates:static", cache_max_age=3600)
    config.add_route("staff_home", "/staff/")
    config.scan("core.staff")
    get_modules(config.registry).configure_staff_routes(config)
