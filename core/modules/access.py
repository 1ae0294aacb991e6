"""Access to service-module screens (ACC-7, SPEC 6): enablement per deposit group and the per-user
function restriction, enforced on the server for every request to a module route.

Every route of a module is named ``<code>:…`` (the core refuses to start otherwise), so one view
deriver guards them all, before the module's own view runs:

- not logged in, or a temporary password: the forbidden view (top page / forced change);
- no deposit group selected: to DC590101;
- the module not enabled for the selected group: 404, as if the screen did not exist;
- 非表示 (hide) for this user: 403;
- 閲覧のみ (view_only): only safe methods, and only views not declared ``changes_data=True``.

``changes_data=True`` on a module's view is the one declaration: the deriver also notes it for the
route (:meth:`core.plugins.ModuleRegistry.record_view`), and the menu hides from 閲覧のみ users the
entries whose route's GET view declares it, so the menu and the guard cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden, HTTPFound, HTTPNotFound
from pyramid.predicates import RequestMethodPredicate
from pyramid.request import Request

from core.db.models import User
from core.plugins import get_modules
from core.security.policy import Permission
from core.security.tenancy import selected_group

SAFE_METHODS = frozenset({"GET", "HEAD"})


def restriction_level(user: User, module_code: str) -> str:
    """The user's ACC-7 level for a module: show (no row, and always for the master), hide, view_only."""
    if user.role == "master":
        return "show"
    for restriction in user.restrictions:
        if restriction.module_code == module_code:
            return restriction.level
    return "show"


def hidden_modules(user: User) -> frozenset[str]:
    """The modules 非表示 for ``user`` (ACC-7): no menu, no information panel, no screen."""
    if user.role == "master":
        return frozenset()
    return frozenset(r.module_code for r in user.restrictions if r.level == "hide")


def module_code_of(request: Request) -> str | None:
    """The module whose route answered this request, if any."""
    route = request.matched_route
    if route is None or ":" not in route.name:
        return None
    code = route.name.split(":", 1)[0]
    return code if code in get_modules(request.registry).modules else None


def _answers_get(predicates: Any) -> bool:
    """Whether a view with these predicates answers GET (a menu link's method)."""
    methods = [p.val for p in predicates if isinstance(p, RequestMethodPredicate)]
    return all("GET" in val for val in methods)


def module_access_deriver(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """Guard every view of a module route (see the module docstring)."""
    if info.exception_only:
        return view  # the forbidden and not-found views answer for the guard itself
    changes_data = bool(info.options.get("changes_data"))
    route_name = info.options.get("route_name")
    if route_name and _answers_get(info.predicates):
        get_modules(info.registry).record_view(route_name, changes_data)

    def guarded(context: Any, request: Request) -> Any:
        code = module_code_of(request)
        if code is None:
            return view(context, request)
        if not request.has_permission(Permission.USE):
            raise HTTPForbidden()
        group = selected_group(request)
        if group is None:
            return HTTPFound(request.route_url("groups"))
        if code not in get_modules(request.registry).enabled_codes(group):
            raise HTTPNotFound()
        level = restriction_level(request.identity.user, code)
        if level == "hide":
            raise HTTPForbidden()
        if level == "view_only" and (changes_data or request.method not in SAFE_METHODS):
            raise HTTPForbidden()
        return view(context, request)

    return guarded


module_access_deriver.options = ("changes_data",)  # type: ignore[attr-defined]


def includeme(config: Configurator) -> None:
    """Install the guard on every view (it acts only on module routes)."""
    config.add_view_deriver(module_access_deriver)
