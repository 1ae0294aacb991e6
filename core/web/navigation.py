"""The customer screens of the core (the module plugins bring their own)."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.events import BeforeRender

from core.auth.screens import register_flows
from core.db.models import ContractKind
from core.modules.access import restriction_level
from core.plugins import get_modules
from core.security.tenancy import selected_group
from core.web import cert, login, register
from core.web.software_keyboard import LAYOUT as SOFTWARE_KEYBOARD_LAYOUT


def _template_globals(event: BeforeRender) -> None:
    """What every screen may draw: the CSRF token, the software keyboard's keys and, once logged
    in, the header and menu bar."""
    request = event.get("request")
    if request is None:
        return
    event["software_keyboard_layout"] = SOFTWARE_KEYBOARD_LAYOUT
    event["csrf_token"] = lambda: get_csrf_token(request)
    event["nav"] = lambda: navigation(request)


def navigation(request: Any) -> dict[str, Any] | None:
    """The header and menu bar of the logged-in screens (001), or None before login."""
    identity = request.identity
    if identity is None or identity.user.password_is_temporary:
        return None

    user = identity.user
    group = selected_group(request)
    contract = user.contract
    menus = []
    for module, entries in get_modules(request.registry).menu(request, group) if group else []:
        level = restriction_level(user, module.code)  # ACC-7: 非表示 hides, 閲覧のみ trims
        if level == "hide":
            continue
        if level == "view_only":
            entries = [entry for entry in entries if not entry.changes_data]
        menus.append((module, entries))
    return {
        "user": user,
        "contract": contract,
        "group": group,
        "modules": menus,
        "can_switch_group": contract.kind == ContractKind.MEMBER
        and len(contract.deposit_groups) > 1,
    }


def includeme(config: Configurator) -> None:
    """Add the core routes and views."""

    config.add_subscriber(_template_globals, BeforeRender)
    config.include("core.web.language")
    config.add_route("top", "/")
    config.scan("core.web.top")
    config.scan("core.web.errors")
    register_flows(config, [register.FLOW, cert.FLOW, login.FLOW])
    config.include("core.web.register")
    config.include("core.web.cert")
    config.include("core.web.login")
    config.include("core.web.users")
    config.include("core.web.oplog")
    config.include("core.web.manuals")
    config.include("core.web.pki")
    config.include("core.web.demo_mail")
    config.include("core.web.manuals")
    config.include("core.web.oplog")
