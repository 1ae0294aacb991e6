"""The staff console's authorisation matrix (#14; AUTH-8, BANK-1..8): every route of the staff
application × each staff role and an anonymous visitor × GET and POST, each cell with its answer.

The routes come from the staff application's own route table: a route missing from ``ROUTES``
fails the test, and so does a row whose route the application no longer has. Add a row for every
staff route you add: its sample path, the methods it answers and the roles it lets in.

A cell is *allowed* when the answer is neither 403 nor the way to the sign-in screen (nor a server
error; a 404 of the view itself, for a sample object that does not exist, is allowed: the permission
was granted before the view ran), *refused* when it is 403 for a signed-in member without the role and the way to the sign-in
screen for an anonymous visitor. POSTs are sent without a CSRF token: the permission is checked before the
token, so an allowed POST answers 400 and changes nothing, a refused one 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import webtest
from pyramid.interfaces import IRoutesMapper

from core.app import close_app, make_app
from core.staff.roles import StaffRole
from tests.staff_support import anonymous_staff_client, staff_client

OPERATOR, APPROVER, ADMINISTRATOR = (
    StaffRole.OPERATOR,
    StaffRole.APPROVER,
    StaffRole.ADMINISTRATOR,
)
EVERY_ROLE = frozenset(StaffRole)
ADMIN_ONLY = frozenset({ADMINISTRATOR})
OPERATOR_ONLY = frozenset({OPERATOR})
APPROVER_ONLY = frozenset({APPROVER})
PUBLIC = "public"
POST = ("POST",)


@dataclass(frozen=True)
class Route:
    """A staff route: a sample path, the methods it answers, who is let in.

    ``allowed`` is the set of roles let in, or :data:`PUBLIC` for a route that anyone reaches
    (the sign-in screens, the static files)."""

    path: str
    allowed: frozenset[StaffRole] | str
    methods: tuple[str, ...] = ("GET",)
    #: Cells of higher ``order`` run later (signing out ends the session).
    order: int = 0


#: Every route of the staff application.
ROUTES: dict[str, Route] = {
    "__static/": Route("/static/cjs.css", PUBLIC, ("GET", "POST")),
    # The sign-in (core.staff.signin): anyone reaches it; signing out needs the CSRF token.
    "staff_entrance": Route("/staff/entrance", PUBLIC),
    "staff_login.password": Route("/staff/login", PUBLIC, ("GET", "POST")),
    "staff_logout": Route("/staff/logout", PUBLIC, ("POST",), order=1),
    # Every signed-in member may change its own password.
    "staff_password": Route("/staff/password", EVERY_ROLE, ("GET", "POST")),
    "staff_home": Route("/staff/", EVERY_ROLE),
    # 職員管理 (core.staff.admin): administrators only.
    "staff_admin": Route("/staff/admin/staff", ADMIN_ONLY),
    "staff_admin_new": Route("/staff/admin/staff/new", ADMIN_ONLY, ("GET", "POST")),
    "staff_admin_issued": Route("/staff/admin/issued", ADMIN_ONLY),
    "staff_admin_download": Route("/staff/admin/issued/download", ADMIN_ONLY),
    "staff_admin_member": Route("/staff/admin/staff/matrix-operator", ADMIN_ONLY),
    "staff_admin_roles": Route("/staff/admin/staff/matrix-operator/roles", ADMIN_ONLY, POST),
    "staff_admin_lock": Route("/staff/admin/staff/matrix-operator/lock", ADMIN_ONLY, POST),
    "staff_admin_unlock": Route("/staff/admin/staff/matrix-operator/unlock", ADMIN_ONLY, POST),
    "staff_admin_issue": Route("/staff/admin/staff/matrix-operator/certificates", ADMIN_ONLY, POST),
    "staff_admin_revoke": Route(
        "/staff/admin/staff/matrix-operator/certificates/1/revoke", ADMIN_ONLY, POST
    ),
    # Paper requests with four-eyes approval (core.staff.requests; BANK-2..5, BANK-8).
    "staff_requests": Route("/staff/requests/", EVERY_ROLE),
    "staff_request_new": Route("/staff/requests/new", OPERATOR_ONLY),
    "staff_request_file": Route(
        "/staff/requests/new/cert_revoke/10000001", OPERATOR_ONLY, ("GET", "POST")
    ),
    "staff_request": Route("/staff/requests/1", EVERY_ROLE),
    "staff_request_approve": Route("/staff/requests/1/approve", APPROVER_ONLY, POST),
    "staff_request_reject": Route("/staff/requests/1/reject", APPROVER_ONLY, POST),
    "staff_request_withdraw": Route("/staff/requests/1/withdraw", OPERATOR_ONLY, POST),
    "staff_contract_lookup": Route("/staff/requests/lookup", OPERATOR_ONLY),
    "staff_contract_notice": Route("/staff/requests/lookup/10000001/notice", OPERATOR_ONLY, POST),
    # 監査ログ照会 (core.staff.audit): every role reads the audit log.
    "staff_audit": Route("/staff/audit", EVERY_ROLE),
    "staff_audit_csv": Route("/staff/audit/csv", EVERY_ROLE),
    # マニュアル管理 (core.staff.manuals; BANK-7): the operator.
    "staff_manuals": Route("/staff/manuals", OPERATOR_ONLY, ("GET", "POST")),
    "staff_manual_move": Route("/staff/manuals/1/move", OPERATOR_ONLY, POST),
    "staff_manual_withdraw": Route("/staff/manuals/1/withdraw", OPERATOR_ONLY, POST),
    # Contracts and modules (core.staff.contracts; BANK-1): the operator.
    "staff_contracts": Route("/staff/contracts", OPERATOR_ONLY),
    "staff_contract_new": Route("/staff/contracts/new", OPERATOR_ONLY, ("GET", "POST")),
    "staff_contract": Route("/staff/contracts/10000001", OPERATOR_ONLY, ("GET", "POST")),
    "staff_group_new": Route(
        "/staff/contracts/10000001/groups/new", OPERATOR_ONLY, ("GET", "POST")
    ),
    "staff_group": Route(
        "/staff/contracts/10000001/groups/00000001", OPERATOR_ONLY, ("GET", "POST")
    ),
    # Content and data (core.staff.content; BANK-6): the operator.
    "staff_messages": Route("/staff/content/messages", OPERATOR_ONLY),
    "staff_message_new": Route("/staff/content/messages/new", OPERATOR_ONLY, ("GET", "POST")),
    "staff_message": Route("/staff/content/messages/M1/edit", OPERATOR_ONLY, ("GET", "POST")),
    "staff_message_withdraw": Route("/staff/content/messages/M1/withdraw", OPERATOR_ONLY, POST),
    "staff_uploads": Route("/staff/content/uploads", OPERATOR_ONLY),
    "staff_upload": Route(
        "/staff/content/uploads/example_notes/notes", OPERATOR_ONLY, ("GET", "POST")
    ),
    "staff_schedules": Route("/staff/content/schedules", OPERATOR_ONLY),
    # The installed example module (examples/cjs_example_module): its staff overview.
    "example_notes:staff": Route("/staff/m/example_notes/", EVERY_ROLE),
}

VISITORS: tuple[StaffRole | None, ...] = (None, *StaffRole)


def expected(route: Route, visitor: StaffRole | None, method: str) -> str:
    """The answer the matrix requires for one cell: method, any, allowed, refused."""
    if method not in route.methods:
        return "method"
    if route.allowed == PUBLIC:
        return "any"
    assert isinstance(route.allowed, frozenset)
    return "allowed" if visitor in route.allowed else "refused"


def classify(response: webtest.TestResponse) -> str:
    """The answer a response gives: allowed, forbidden (403), sign-in (a redirect to it),
    missing (404) or the status of a server error."""
    status = response.status_int
    if status in (301, 302, 303):
        location = response.headers["Location"].split("?", 1)[0]
        return "sign-in" if location.endswith("/staff/login") else "allowed"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "missing"
    if status >= 500:
        return f"status {status}"
    return "allowed"


def matches(answer: str, want: str, visitor: StaffRole | None) -> bool:
    """A signed-in member is refused with 403, an anonymous visitor sent to the sign-in."""
    if want == "any":
        return answer in {"allowed", "missing", "sign-in"}
    if want == "method":
        return answer == "missing"
    if want == "refused":
        return answer == ("sign-in" if visitor is None else "forbidden")
    return answer in {"allowed", "missing"}


@pytest.fixture
def staff_browsers(
    app_settings: dict[str, str],
) -> Iterator[tuple[Any, dict[str, webtest.TestApp]]]:
    """The staff app, and a browser per visitor: anonymous and one member per role."""
    staff_app = make_app(app_settings, kind="staff")
    browsers = {"anonymous": anonymous_staff_client(staff_app)}
    for role in StaffRole:
        browsers[role.value] = staff_client(staff_app, f"matrix-{role.value}", [role])
    try:
        yield staff_app, browsers
    finally:
        close_app(staff_app)


def test_every_staff_route_is_in_the_matrix(staff_browsers):
    staff_app, _ = staff_browsers
    mapper = staff_app.registry.getUtility(IRoutesMapper)
    routes = {route.name for route in mapper.get_routes()}
    undeclared = sorted(routes - set(ROUTES))
    assert not undeclared, f"staff routes missing from the authorisation matrix: {undeclared}"
    gone = sorted(set(ROUTES) - routes)
    assert not gone, f"routes in the matrix that the staff app no longer has: {gone}"


def test_the_staff_matrix(staff_browsers, capsys):
    _app, browsers = staff_browsers
    cells = sorted(
        (
            (name, route, visitor, method)
            for name, route in ROUTES.items()
            for visitor in VISITORS
            for method in ("GET", "POST")
        ),
        key=lambda cell: cell[1].order,
    )
    failures = []
    for _name, route, visitor, method in cells:
        browser = browsers[visitor.value if visitor else "anonymous"]
        if method == "GET":
            response = browser.get(route.path, expect_errors=True)
        else:
            response = browser.post(route.path, {}, expect_errors=True)
        want = expected(route, visitor, method)
        answer = classify(response)
        if not matches(answer, want, visitor):
            who = visitor.value if visitor else "anonymous"
            failures.append(f"{method} {route.path} as {who}: expected {want}, got {answer}")
    with capsys.disabled():
        print(f"\nstaff authorisation matrix: {len(cells)} cells asserted, {len(failures)} failed")
    assert not failures, "\n".join(failures)
