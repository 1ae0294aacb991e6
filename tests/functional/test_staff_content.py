"""BANK-6 in the staff console: the information screen's お知らせ (create, edit, withdraw, by the
rules of the お知らせ file), the schedules, and the upload of every module's bank data files through
the loaders ``cjs bank load`` uses: all rows or none, each refused row listed, each change audited
with the staff ID."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Customer
from sqlalchemy import func, select
from webtest import Upload

from core.app import close_app, make_app
from core.bank.loaders import all_loaders
from core.clock import set_clock
from core.db.models import AuditEvent, DeductionSchedule, Message
from core.plugins import get_modules
from core.staff.roles import StaffRole
from core.timefmt import to_jst
from tests.staff_support import staff_client

PASSWORD = "Passw0rd!"
SCHEDULE_HEADER = (
    "契約番号,入金グループ,区分,控除年月,締切日,依頼データ受信日,結果データ受信日,支給日\n"
)


@pytest.fixture
def staff_app(app_settings: dict[str, str], bank: None, clock) -> Iterator[Any]:
    """The staff app on the demo contracts, reading the same clock as the customer app."""
    app = make_app(app_settings, kind="staff")
    set_clock(app.registry, clock)
    try:
        yield app
    finally:
        close_app(app)


@pytest.fixture
def operator(staff_app):
    return staff_client(staff_app, "staff01", [StaffRole.OPERATOR])


def staff_events(dbsession) -> list[AuditEvent]:
    dbsession.rollback()
    return list(
        dbsession.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.actor == "staff01", AuditEvent.action.not_like("staff%")
            )  # no sign-in
            .order_by(AuditEvent.id)
        )
    )


def count(dbsession, model) -> int:
    dbsession.rollback()
    return dbsession.scalar(select(func.count()).select_from(model))


def today(clock) -> str:
    return f"{to_jst(clock.now):%Y%m%d}"


def fill_message(form, clock, **values: str) -> None:
    defaults = {
        "message_no": "S01",
        "posted_on": today(clock),
        "subject": "本部の皆様へ",
        "body": "システム更新のお知らせです。\r\n二行目です。",
        "audience": "入金グループ",
        "contract_no": "10000001",
        "group_no": "00000001",
        "publish_at": "",
        "withdraw_at": "",
    }
    for name, value in {**defaults, **values}.items():
        if name in form.fields:
            if name == "audience":
                form[name].force_value(value)
            else:
                form[name] = value


def test_content_screens_answer_only_roles_with_content_manage(staff_app):
    approver = staff_client(staff_app, "staff02", [StaffRole.APPROVER])
    for path in (
        "/staff/content/messages",
        "/staff/content/messages/new",
        "/staff/content/schedules",
        "/staff/content/uploads",
        "/staff/content/uploads/core/schedules",
    ):
        approver.get(path, status=403)
    home = staff_client(staff_app, "staff01").get("/staff/")
    assert all(title in home.text for title in ("お知らせ", "スケジュール", "データ取込"))
    assert "データ取込" not in approver.get("/staff/").text


def test_a_message_from_the_console_reaches_its_audience_until_withdrawn(
    app, operator, dbsession, clock
):
    """BANK-6: the operator publishes a message for group 00000001 of 10000001; the customer's
    DC671101 shows it in that group only; withdrawn, it is gone at the next request."""
    form = operator.get("/staff/content/messages/new").forms["message-form"]
    fill_message(form, clock)
    page = form.submit().follow()
    assert "お知らせ S01 を保存しました。" in page.text
    stored = dbsession.scalars(select(Message)).one()
    assert stored.body == "システム更新のお知らせです。\n二行目です。"
    assert [(e.action, e.target, e.actor_kind) for e in staff_events(dbsession)] == [
        ("bank.message.create", "S01", "bank")
    ]

    customer = Customer.of(app, dbsession)
    customer.register_master()
    data, _ = customer.issue("master01", PASSWORD, "taro@example.com")
    customer.app.reset()
    customer.use_certificate(data, PASSWORD)
    page = customer.login(PASSWORD)
    info = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert re.findall(r'<tr id="message-(\w+)">', info.text) == ["S01"]
    assert "本部の皆様へ" in info.text

    operator.get("/staff/content/messages").forms["withdraw-S01"].submit().follow()
    clock.advance(seconds=1)
    assert "本部の皆様へ" not in customer.app.get("/info").text
    assert staff_events(dbsession)[-1].action == "bank.message.withdraw"
    listing = operator.get("/staff/content/messages")
    assert listing.html.find(id="message-S01").find(class_="status").text == "掲載終了"
    assert "withdraw-S01" not in listing.forms


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("message_no", "お知らせ1", "半角英数字10文字以内で指定してください。"),
        (
            "posted_on",
            "2026-12-01",
            "日付は YYYYMMDD（半角数字8桁）の正しい日付で指定してください。",
        ),
        ("subject", "", "50文字以内で指定してください。"),
        (
            "audience",
            "組合員",
            "全体、会員、事業主、契約、入金グループ のいずれかで指定してください。",
        ),
        ("contract_no", "", "対象が契約・入金グループのときは指定してください。"),
        ("contract_no", "19999999", "この契約番号の契約はありません。"),
        ("group_no", "00000009", "この契約にこの入金グループはありません。"),
        ("withdraw_at", "200001010000", "掲載終了は掲載開始より後にしてください。"),
    ],
)
def test_bad_input_on_the_message_screen(operator, dbsession, clock, field, value, message):
    """The rules of a line of the お知らせ file, at the field; the input kept; nothing stored."""
    form = operator.get("/staff/content/messages/new").forms["message-form"]
    fill_message(form, clock, **{field: value})
    page = form.submit(status=200)
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text, page.text
    kept = page.forms["message-form"]
    if field != "audience":  # a choice not offered cannot be shown selected
        assert kept[field].value == value
    assert kept["subject"].value == ("" if field == "subject" else "本部の皆様へ")
    assert count(dbsession, Message) == 0
    assert staff_events(dbsession) == []


def test_a_message_number_is_taken_once(operator, dbsession, clock):
    for _ in range(2):
        form = operator.get("/staff/content/messages/new").forms["message-form"]
        fill_message(form, clock, subject="二度目")
        page = form.submit()
    assert (
        "このお知らせ番号のお知らせは登録済みです。" in page.html.find(id="message_no-error").text
    )
    assert [m.subject for m in dbsession.scalars(select(Message))] == ["二度目"]


def test_a_message_is_edited_and_the_change_audited(operator, dbsession, clock):
    form = operator.get("/staff/content/messages/new").forms["message-form"]
    fill_message(form, clock, audience="全体", contract_no="", group_no="")
    form.submit().follow()
    form = operator.get("/staff/content/messages/S01/edit").forms["message-form"]
    assert form["subject"].value == "本部の皆様へ" and form["audience"].value == "全体"
    form.submit().follow()  # unchanged: nothing to audit
    form["subject"] = "全員の皆様へ"
    form.submit().follow()
    dbsession.rollback()
    assert dbsession.scalars(select(Message)).one().subject == "全員の皆様へ"
    assert [e.action for e in staff_events(dbsession)] == [
        "bank.message.create",
        "bank.message.update",
    ]
    operator.get("/staff/content/messages/S99/edit", status=404)


def test_the_upload_list_names_every_loader_of_the_core_and_the_modules(staff_app, operator):
    page = operator.get("/staff/content/uploads")
    listed = {
        tuple(row.find_all("td")[2].text.split())
        for row in page.html.find(id="loaders").find("tbody").find_all("tr")
    }
    assert listed == set(all_loaders(get_modules(staff_app.registry).loaders))
    assert {("core", "messages"), ("core", "schedules")} <= listed
    assert any(code == "collective_savings" for code, _ in listed)
    operator.get("/staff/content/uploads/core/nothing", status=404)


def schedule_file(*rows: str) -> bytes:
    return (SCHEDULE_HEADER + "".join(f"{row}\n" for row in rows)).encode("cp932")


def test_a_schedule_file_is_uploaded_listed_and_not_loaded_twice(operator, dbsession):
    """BANK-6: the same loader as ``cjs bank load core schedules FILE``; counts on success."""
    data = schedule_file(
        "10000001,00000001,月例,202612,20261210,,,20261225",
        "10000001,00000002,年末一時金,202612,20261205,20261206,,20261220",
    )
    form = (
        operator.get("/staff/content/schedules")
        .click("スケジュールファイルの取込")
        .forms["upload-form"]
    )
    form["file"] = Upload("schedules.csv", data)
    page = form.submit()
    assert "「schedules.csv」を取り込みました（2件）。" in page.text
    assert count(dbsession, DeductionSchedule) == 2
    events = staff_events(dbsession)
    assert [(e.action, e.target, e.details["rows"]) for e in events] == [
        ("load.schedules", "schedules.csv", 2)
    ]
    listing = operator.get("/staff/content/schedules", {"contract_no": "10000001"})
    assert "年末一時金" in listing.text and "2026/12/10" in listing.text

    form = operator.get("/staff/content/uploads/core/schedules").forms["upload-form"]
    form["file"] = Upload("again.csv", data)
    assert "「again.csv」は取込済みです。変更はありません。" in form.submit().text
    assert len(staff_events(dbsession)) == 1


def test_a_file_with_a_bad_row_lists_every_refused_row_and_stores_nothing(operator, dbsession):
    data = schedule_file(
        "10000001,00000001,月例,202612,20261210,,,20261225",
        "10000001,00000009,月例,202612,20261210,,,20261225",
        "10000001,00000001,春季,202612,20261210,,,20261225",
    )
    form = operator.get("/staff/content/uploads/core/schedules").forms["upload-form"]
    form["file"] = Upload("schedules.csv", data)
    page = form.submit(status=200)
    assert "「schedules.csv」に誤りが2件あります。ファイルは取り込んでいません。" in page.text
    rows = [
        [td.text for td in tr.find_all("td")]
        for tr in page.html.find(id="row-errors").find("tbody").find_all("tr")
    ]
    assert rows[0] == ["3", "入金グループ", "00000009", "この契約にこの入金グループはありません。"]
    assert rows[1][:3] == ["4", "区分", "春季"]
    assert count(dbsession, DeductionSchedule) == 0
    assert staff_events(dbsession) == []


def test_an_upload_without_a_file_says_so_at_the_field(operator, dbsession):
    form = operator.get("/staff/content/uploads/core/messages").forms["upload-form"]
    page = form.submit(status=200)
    assert page.html.find(id="file-error").text == "ファイルを選択してください。"
    assert staff_events(dbsession) == []


def test_a_module_data_file_is_uploaded_through_the_module_loader(
    staff_app, operator, dbsession, clock
):
    """BANK-6: each module's demo file (cjs_demo_files), uploaded in the console, is loaded by the
    module's own loader (the one ``cjs bank load MODULE KIND FILE`` uses) and audited."""
    modules = get_modules(staff_app.registry)
    files = modules.demo_files(dbsession, clock.now)
    dbsession.rollback()
    assert files, "the installed modules offer demo files"
    for code, demo in files:
        form = operator.get(f"/staff/content/uploads/{code}/{demo.kind}").forms["upload-form"]
        form["file"] = Upload(demo.name, demo.data)
        page = form.submit()
        assert f"「{demo.name}」を取り込みました（" in page.text, page.text
    actions = [e.action for e in staff_events(dbsession)]
    assert actions == [f"load.{code}.{demo.kind}" for code, demo in files]


def test_a_refused_module_file_stores_nothing(staff_app, operator, dbsession, clock):
    modules = get_modules(staff_app.registry)
    code, demo = modules.demo_files(dbsession, clock.now)[0]
    dbsession.rollback()
    broken = demo.data + b"\r\nthis,is,not,a,row\r\n"
    form = operator.get(f"/staff/content/uploads/{code}/{demo.kind}").forms["upload-form"]
    form["file"] = Upload(demo.name, broken)
    page = form.submit(status=200)
    assert "ファイルは取り込んでいません。" in page.text
    assert staff_events(dbsession) == []
