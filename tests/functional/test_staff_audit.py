"""監査ログ照会 for bank staff (#14 item 6; SPEC section 5: every bank action audited with who and
when; ACC-8 for the filter): every event across contracts, filters, paging, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from core import audit
from core.app import close_app, make_app
from core.db.models import AuditEvent
from core.staff.audit import PAGE_SIZE
from core.staff.roles import StaffRole
from core.timefmt import JST
from tests.staff_support import anonymous_staff_client, staff_client


@pytest.fixture
def staff_app(app_settings: dict[str, str]) -> Iterator[Any]:
    app = make_app(app_settings, kind="staff")
    try:
        yield app
    finally:
        close_app(app)


def add_event(dbsession, when: dt.datetime, action: str = "login.success", **fields: Any) -> None:
    values = {"actor": "master01", "actor_kind": "user", "contract_no": "10000001", **fields}
    event = audit.record(dbsession, action, **values)
    event.occurred_at = when


@pytest.fixture
def events(dbsession):
    """Events of two contracts, of the bank and of the system, over three days (Japan time)."""
    add_event(dbsession, dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST))
    add_event(
        dbsession,
        dt.datetime(2026, 4, 1, 10, 0, tzinfo=JST),
        actor="master02",
        contract_no="10000002",
    )
    add_event(
        dbsession,
        dt.datetime(2026, 4, 2, 9, 0, tzinfo=JST),
        "bank.manual.register",
        actor="staff07",
        actor_kind="bank",
        contract_no=None,
        target="manual:1",
    )
    add_event(
        dbsession,
        dt.datetime(2026, 4, 3, 23, 59, tzinfo=JST),
        "login.password",
        result="failure",
        contract_no="10000002",
        actor="general02",
    )
    add_event(
        dbsession,
        dt.datetime(2026, 4, 3, 12, 0, tzinfo=JST),
        "cert.expiry_notice",
        actor="system",
        actor_kind="system",
        contract_no=None,
    )
    dbsession.commit()


def rows_of(page) -> list[list[str]]:
    table = page.html.find(id="audit-table")
    if table is None:
        return []
    return [[td.text.strip() for td in tr.find_all("td")] for tr in table.tbody.find_all("tr")]


#: The events fixture's period: the staff sign-in of the clients (audited too) is later.
APRIL = {"date_to": "2026-04-30"}


def test_every_event_across_contracts_newest_first(staff_app, events):
    page = staff_client(staff_app, "staff01", [StaffRole.APPROVER]).get("/staff/audit", APRIL)
    assert "抽出件数：5件" in page.text
    rows = rows_of(page)
    assert [(row[2], row[3], row[5]) for row in rows] == [
        ("10000002", "general02", "ログイン（パスワード認証）"),
        ("", "system", "cert.expiry_notice"),
        ("", "staff07", "マニュアル登録（ろうきん）"),
        ("10000002", "master02", "ログイン"),
        ("10000001", "master01", "ログイン"),
    ]
    assert rows[0][1] == "2026/04/03 23:59:00"  # Japan time
    assert rows[0][7] == "失敗"


@pytest.mark.parametrize(
    ("query", "actors"),
    [
        ({"contract_no": "10000002"}, ["general02", "master02"]),
        ({"contract_no": "１０００００01"}, ["master01"]),  # full-width digits typed
        ({"actor": "staff07"}, ["staff07"]),
        ({"action": "login.success"}, ["master02", "master01"]),
        ({"result": "failure"}, ["general02"]),
        ({"date_from": "2026-04-02", "date_to": "2026/4/3"}, ["general02", "system", "staff07"]),
        ({"date_to": "2026-04-01"}, ["master02", "master01"]),
    ],
)
def test_filters(staff_app, events, query, actors):
    page = staff_client(staff_app).get("/staff/audit", query)
    assert [row[3] for row in rows_of(page)] == actors


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "2026-02-30"}, "date_from", "存在しない日付です。"),
        ({"date_to": "4/1"}, "date_to", "日付は「2026-04-01」の形式で入力してください。"),
        (
            {"date_from": "2026-04-03", "date_to": "2026-04-01"},
            "date_to",
            "終了日には開始日以降の日付を入力してください。",
        ),
        (
            {"contract_no": "1234-5678"},
            "contract_no",
            "契約番号は半角英数字8桁以内で入力してください。",
        ),
        ({"actor": "x" * 65}, "actor", "実行者は64文字以内で入力してください。"),
        ({"result": "maybe"}, "result", "選択肢から選択してください。"),
    ],
)
def test_bad_filter_input_shows_the_screen_again_with_the_message_at_the_field(
    staff_app, events, query, field, message
):
    page = staff_client(staff_app).get("/staff/audit", query)
    error = page.html.find(id=f"{field}-error")
    assert error is not None and error.text == message
    if field != "result":
        assert page.html.find(id=field)["value"] == query[field]  # input kept
    assert rows_of(page) == []
    assert "抽出条件に誤りがあります。" in page.text


def test_pages_of_fifty(staff_app, dbsession):
    start = dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST)
    for minute in range(PAGE_SIZE + 3):
        add_event(dbsession, start + dt.timedelta(minutes=minute), target=f"t{minute}")
    dbsession.commit()
    client = staff_client(staff_app)
    first = client.get("/staff/audit", {"contract_no": "10000001"})
    assert f"抽出件数：{PAGE_SIZE + 3}件（1～{PAGE_SIZE}件目）" in first.text
    assert rows_of(first)[0][6] == f"t{PAGE_SIZE + 2}"
    second = first.click(linkid=None, href="page=2", index=0)
    assert f"（{PAGE_SIZE + 1}～{PAGE_SIZE + 3}件目）" in second.text
    assert [row[6] for row in rows_of(second)] == ["t2", "t1", "t0"]
    assert "contract_no=10000001" in second.html.find(id="audit-pager").a["href"]


def _export_events(dbsession) -> list[AuditEvent]:
    dbsession.rollback()
    return list(
        dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "staff.audit.export"))
    )


def test_csv_export_in_cp932_is_audited(staff_app, events, dbsession):
    client = staff_client(staff_app, "staff03", [StaffRole.ADMINISTRATOR])
    page = client.get("/staff/audit", {"contract_no": "10000002"})
    response = page.forms["audit-csv"].submit()
    assert response.headers["Content-Type"] == "text/csv; charset=Windows-31J"
    assert "%E7%9B%A3%E6%9F%BB%E3%83%AD%E3%82%B0" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.body.decode("cp932"))))
    assert rows[0][:4] == ["イベントID", "日時", "契約番号", "実行者"]
    assert [(row[2], row[3], row[7]) for row in rows[1:]] == [
        ("10000002", "general02", "失敗"),
        ("10000002", "master02", "成功"),
    ]
    (exported,) = _export_events(dbsession)
    assert (exported.actor, exported.actor_kind) == ("staff03", "bank")
    assert exported.details == {"rows": 2, "encoding": "cp932", "contract_no": "10000002"}


def test_csv_export_in_utf8_with_a_bom(staff_app, events):
    page = staff_client(staff_app).get("/staff/audit", APRIL)
    form = page.forms["audit-csv"]
    form["encoding"] = "utf-8"
    response = form.submit()
    assert response.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert response.body.startswith(b"\xef\xbb\xbf")
    assert len(list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))) == 6


def test_a_character_cp932_cannot_hold_is_named_and_nothing_is_exported(staff_app, dbsession):
    add_event(dbsession, dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST), target="𠮷野家")
    dbsession.commit()
    client = staff_client(staff_app)
    page = client.get("/staff/audit/csv", {"encoding": "cp932"}, status=422)
    assert "「𠮷」" in page.html.find(id="encoding-error").text
    assert "UTF-8 で出力するか" in page.text
    assert _export_events(dbsession) == []
    client.get("/staff/audit/csv", {"encoding": "utf-8"}, status=200)


def test_only_signed_in_staff_see_the_audit_log(staff_app, events):
    for path in ("/staff/audit", "/staff/audit/csv"):  # to the sign-in
        assert (
            anonymous_staff_client(staff_app)
            .get(path, status=302)
            .location.endswith("/staff/login")
        )
    home = staff_client(staff_app, "staff01", [StaffRole.OPERATOR]).get("/staff/")
    assert home.html.find("a", string="監査ログ照会") is not None
