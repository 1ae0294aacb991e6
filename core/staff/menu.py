"""The staff console's menu: each part of the back office adds its screens with one directive.

``config.add_staff_menu_entry(title, route_name, permission, order=…)`` registers an entry; the
layout (``templates/staff/base.html``) shows, in ``order``, the entries the signed-in staff member's
roles permit, through ``request.staff_menu``. A screen still declares its own ``permission``: the menu
only hides what would be refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyramid.config import Configurator
from pyramid.request import Request

from core.hookspecs import StaffPermission


@dataclass(frozen=True)
class StaffMenuEntry:
    """One entry of the staff console's menu."""

    title: str
    route_name: str
    permission: StaffPermission
    order: int = 100


_ENTRIES_KEY = "cjs.staff.menu"


def add_staff_menu_entry(
    config: Configurator,
    title: str,
    route_name: str,
    permission: StaffPermission,
    order: int = 100,
) -> None:
    """Config directive: show ``title`` (a link to ``route_name``) to staff holding ``permission``."""
    entries: list[StaffMenuEntry] = config.registry.setdefault(_ENTRIES_KEY, [])
    entries.append(StaffMenuEntry(title, route_name, permission, order))


def staff_menu(request: Request) -> list[StaffMenuEntry]:
    """The menu entries ``request``'s staff member may use, in order."""
    entries: list[StaffMenuEntry] = request.registry.get(_ENTRIES_KEY, [])
    return [
        entry
        for entry in sorted(entries, key=lambda entry: (entry.order, entry.title))
        if request.has_permission(entry.permission)
    ]


def includeme(config: Configurator) -> None:
    """The directive and ``request.staff_menu``."""
    config.add_directive("add_staff_menu_entry", add_staff_menu_entry)
    config.add_request_method(staff_menu, "staff_menu", reify=True)
