"""The composition point of #11: one factory builds the customer app and the bank staff's app from the
same plugins and settings, each with its own security policy, view derivers and routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pyramid.response import Response
from webtest import TestApp

from core.app import close_app, make_app
from core.clock import set_clock
from core.db import get_session_factory
from core.db.models import StaffMember
from core.hookspecs import ServiceModule, StaffPermission, hookimpl
from core.staff.roles import StaffRole
from core.timefmt import JST
from tests.staff_support import anonymous_staff_client, csrf_token, staff_client

#: Saturday night, Japan time: the customer screens are closed (AUTH-7).
CLOSED = dt.datetime(2026, 11, 28, 23, 0, tzinfo=JST)


class StaffModule:
    """A module with one customer screen and one staff screen."""

    module = ServiceModule(
        code="desk", name="窓口", menu_title="窓口事務", contract_kinds=("member",)
    )

    @hookimpl
    def cjs_service_module(self):
        return self.module

    @hookimpl
    def cjs_module_routes(self, config, module):
        config.add_route("desk:list", "/list")
        config.add_view(lambda request: Response("customer list"), route_name="desk:list")

    @hookimpl
    def cjs_staff_routes(self, config, module):
        config.add_route("desk:staff", "/")
        config.add_view(
            lambda request: Response(f"staff screen for {request.identity.staff_id}"),
            route_name="desk:staff",
            permission=StaffPermission.USE,
        )
        config.add_route("desk:approve", "/approve")
        config.add_view(
            lambda request: Response("approvals"),
            route_name="desk:approve",
            permission=StaffPermission.REQUEST_APPROVE,
        )
        config.add_staff_menu_entry("窓口の検印", "desk:approve", StaffPermission.REQUEST_APPROVE)
        config.add_view(
            lambda request: Response("approved"),
            route_name="desk:approve",
            request_method="POST",
            permission=StaffPermission.REQUEST_APPROVE,
        )


def _client(app: Any, staff_id: str | None = None) -> TestApp:
    if staff_id is None:
        return anonymous_staff_client(app)
    return staff_client(app, staff_id)


@pytest.fixture
def closed_apps(app_settings: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    """The customer app and the staff app, both with service hours on and the clock at CLOSED."""
    settings = {**app_settings, "cjs.hours.always_open": "false"}
    customer = make_app(settings, plugins=[StaffModule()])
    staff = make_app(settings, plugins=[StaffModule()], kind="staff")
    for app in (customer, staff):
        set_clock(app.registry, lambda: CLOSED)
    try:
        yield customer, staff
    finally:
        close_app(customer)
        close_app(staff)


def test_the_staff_home_answers_an_authenticated_staff_member(closed_apps):
    _customer, staff = closed_apps
    page = _client(staff, "staff01").get("/staff/")
    assert "職員ID：staff01" in page.text
    assert "窓口" in page.text  # the modules, from the same plugins as the customer app


def test_the_staff_app_refuses_everyone_else(closed_apps):
    """Fail closed: without a staff sign-in every staff screen sends to the sign-in; an HTTP header
    cannot stand in for it."""
    _customer, staff = closed_apps
    for path in ("/staff/", "/staff/m/desk/"):
        response = _client(staff).get(path, status=302)
        assert response.location == "https://localhost/staff/login"
    for header in ("cjs.staff_id", "X-Cjs-Staff-Id", "X-Staff-Id"):
        _client(staff).get("/staff/", headers={header: "staff01"}, status=302)


def test_a_staff_screen_answers_only_the_roles_that_grant_its_permission(closed_apps):
    """The roles of seed 003's stamps: an operator (取扱者) cannot reach the approver's (検印者) screen,
    and the menu shows each member only what the roles allow."""
    _customer, staff = closed_apps
    operator = staff_client(staff, "staff01", [StaffRole.OPERATOR])
    approver = staff_client(staff, "staff02", [StaffRole.APPROVER])
    operator.get("/staff/m/desk/approve", status=403)
    assert approver.get("/staff/m/desk/approve").text == "approvals"
    assert "窓口の検印" not in operator.get("/staff/").text
    home = approver.get("/staff/")
    assert "窓口の検印" in home.text
    assert home.html.find(id="staff-roles").text == "検印者"


def test_every_staff_post_needs_the_csrf_token(closed_apps):
    _customer, staff = closed_apps
    approver = staff_client(staff, "staff02", [StaffRole.APPROVER])
    token = csrf_token(approver)
    approver.post("/staff/m/desk/approve", {}, status=400)
    approver.post(
        "/staff/m/desk/approve",
        {"csrf_token": token},
        headers={"Origin": "https://evil.example"},
        status=400,
    )
    approver.post("/staff/m/desk/approve", {"csrf_token": "other"}, status=400)
    assert approver.post("/staff/m/desk/approve", {"csrf_token": token}).text == "approved"


def test_an_unknown_role_grants_nothing(closed_apps):
    """Fail closed: a role the code does not know, in the account's row, grants nothing at all
    (not even the home screen), and no role neither."""
    _customer, staff = closed_apps
    staff_client(staff, "staff01", []).get("/staff/m/desk/approve", status=403)
    client = staff_client(staff, "staff02", [StaffRole.APPROVER])
    with get_session_factory(staff.registry)() as db, db.begin():
        db.query(StaffMember).filter_by(staff_id="staff02").one().roles = "approver,root"
    client.get("/staff/", status=403)
    client.get("/staff/m/desk/approve", status=403)


def test_staff_screens_are_not_subject_to_customer_service_hours(closed_apps):
    customer, staff = closed_apps
    assert "ただいまの時間はご利用いただけません。" in _client(customer).get("/", status=503).text
    assert _client(staff, "staff01").get("/staff/").status_int == 200
    assert _client(staff, "staff01").get("/staff/m/desk/").text == "staff screen for staff01"


def test_a_module_staff_screen_has_no_module_guard(closed_apps):
    """No deposit group, no customer login, no enablement: the customer guard is not there."""
    _customer, staff = closed_apps
    assert _client(staff, "staff01").get("/staff/m/desk/").status_int == 200


def test_customer_routes_are_not_reachable_in_the_staff_app(closed_apps):
    customer, staff = closed_apps
    for path in ("/", "/login", "/register/master", "/m/desk/list", "/oplog"):
        _client(staff, "staff01").get(path, status=404)
    for path in ("/staff/", "/staff/login", "/staff/entrance"):
        _client(customer).get(path, status=404)


def test_staff_routes_must_carry_the_module_prefix(app_settings):
    class Careless(StaffModule):
        @hookimpl
        def cjs_staff_routes(self, config, module):
            config.add_route("desk_home", "/")

    from core.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="route 'desk_home' must be named 'desk:…'"):
        make_app(app_settings, plugins=[Careless()], kind="staff")


def test_an_unknown_kind_of_app_is_refused(app_settings):
    with pytest.raises(ValueError, match="kind must be one of customer, staff"):
        make_app(app_settings, kind="back-office")
