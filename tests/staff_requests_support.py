"""Paper requests in tests: the customer app and the staff app on one database, an operator (取扱者)
who files, an approver (検印者) who approves, and the customer's browser (#14 item 2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from core.app import close_app, make_app
from core.clock import set_clock
from core.db.models import AuditEvent, OutboxMessage, StaffRequest
from core.staff.roles import StaffRole
from tests.staff_support import staff_client

#: The 依頼者 block of seed 003's 記入例.
PAPER = {
    "postal_code": "999-9999",
    "address": "東京都千代田区神田駿河台9-99-9",
    "organisation_name": "中央労働組合",
    "representative_title": "執行委員長",
    "representative_name": "労金　花子",
    "phone": "090-9999-9999",
    "fax": "03-9999-9999",
    "contact_person": "中央",
}
OPERATOR = "staff01"
APPROVER = "staff02"


@pytest.fixture
def staff_app(app: Any, app_settings: dict[str, str], clock: Any) -> Iterator[Any]:
    """The staff app on the customer app's database, reading the same clock."""
    application = make_app(app_settings, kind="staff")
    set_clock(application.registry, clock)
    try:
        yield application
    finally:
        close_app(application)


@pytest.fixture
def operator(staff_app: Any) -> Any:
    """取扱者 staff01, who also holds the approver's role: four eyes is not a role matter."""
    return staff_client(staff_app, OPERATOR, [StaffRole.OPERATOR, StaffRole.APPROVER])


@pytest.fixture
def approver(staff_app: Any) -> Any:
    """検印者 staff02."""
    return staff_client(staff_app, APPROVER, [StaffRole.APPROVER])


def file_form(operator: Any, kind: str, contract_no: str) -> Any:
    """依頼書の受付 through its first step; returns the form screen."""
    page = operator.get("/staff/requests/new")
    form = page.forms["start-form"]
    form["kind"] = kind
    form["contract_no"] = contract_no
    return form.submit().maybe_follow()


def file_request(operator: Any, kind: str, contract_no: str, **fields: Any) -> int:
    """File a request of ``kind`` with seed 003's 依頼者 block and ``fields``; returns its number."""
    form = file_form(operator, kind, contract_no).forms["file-form"]
    for name, value in {**PAPER, **fields}.items():
        form[name] = value
    page = form.submit()
    assert page.status_int == 302, page.text
    return int(page.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def approve(client: Any, request_id: int, *, seal_checked: bool = True) -> Any:
    """検印 on the detail screen; returns the answer (the detail again, or its redirect)."""
    form = client.get(f"/staff/requests/{request_id}").forms["approve-form"]
    form["seal_checked"] = seal_checked
    return form.submit().maybe_follow()


def request_row(dbsession: Any, request_id: int) -> StaffRequest:
    dbsession.rollback()
    row = dbsession.get(StaffRequest, request_id)
    assert row is not None
    return row


def audit_of(dbsession: Any, request_id: int) -> list[tuple[str, str, str, str]]:
    """The request's transitions as audited: (action, actor, actor kind, result)."""
    dbsession.rollback()
    return [
        (e.action, e.actor, e.actor_kind, e.result)
        for e in dbsession.scalars(select(AuditEvent).order_by(AuditEvent.id))
        if e.action.startswith("staff_request.") and e.details.get("request") == request_id
    ]


def mails(dbsession: Any, kind: str) -> list[str]:
    """The recipients of the outbox mails of ``kind``."""
    dbsession.rollback()
    return list(dbsession.scalars(select(OutboxMessage.to_addr).where(OutboxMessage.kind == kind)))
