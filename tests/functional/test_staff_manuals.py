"""マニュアル管理 for bank staff and ``cjs bank publish-forms`` (#14 item 5, BANK-7; ACC-8 for bad
input): upload PDFs with name, comment and audience, order them, withdraw them; the customers'
マニュアル照会 shows what is published for their contract's kind; the generated forms are published
on a fresh installation, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from webtest import Upload

from core import cli
from core.app import close_app, make_app
from core.bank import manuals
from core.bank.paper_forms import FORMS, REQUEST_TITLE, BankInfo, request_form
from core.db.models import AuditEvent, Manual
from core.staff.roles import StaffRole
from tests.staff_support import csrf_token, staff_client

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def staff_app(app_settings: dict[str, str]) -> Iterator[Any]:
    app = make_app(app_settings, kind="staff")
    try:
        yield app
    finally:
        close_app(app)


@pytest.fixture
def operator(staff_app):
    return staff_client(staff_app, "staff01", [StaffRole.OPERATOR])


def upload(client, title="給与控除の手引き", comment="年度版", audience="both", file=PDF, **kw):
    page = client.get("/staff/manuals")
    form = page.forms["manual-upload"]
    form["title"] = title
    form["comment"] = comment
    form["audience"] = audience
    if file is not None:
        form["file"] = Upload(kw.get("filename", "手引き.pdf"), file, "application/pdf")
    return form.submit(status=kw.get("status", "*"))


def titles(dbsession, kind: str) -> list[str]:
    dbsession.rollback()
    return [manual.title for manual in manuals.visible_manuals(dbsession, kind)]


def actions(dbsession) -> list[str]:
    dbsession.rollback()
    return list(
        dbsession.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("bank.%"))  # not the staff sign-in's
            .order_by(AuditEvent.id)
        )
    )


def test_an_uploaded_pdf_is_published_for_its_audience(operator, dbsession):
    result = upload(operator, audience="employer").follow()
    assert "マニュアルを登録しました。" in result.text
    assert titles(dbsession, "employer") == ["給与控除の手引き"]
    assert titles(dbsession, "member") == []
    manual = dbsession.scalars(select(Manual)).one()
    assert (manual.comment, manual.filename, manual.content) == ("年度版", "手引き.pdf", PDF)
    event = dbsession.scalars(select(AuditEvent).where(AuditEvent.action.like("bank.%"))).one()
    assert (event.action, event.actor, event.actor_kind) == (
        "bank.manual.register",
        "staff01",
        "bank",
    )
    row = result.html.find(id=f"manual-{manual.id}")
    assert "事業主" in row.text and "掲載中" in row.text


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"file": b"GIF89a\x01\x00"}, "file", manuals.NOT_A_PDF),
        ({"file": b"%PDF-1.7\n1 0 obj << /Length 999"}, "file", manuals.NOT_A_PDF),  # cut short
        ({"file": b""}, "file", "ファイルが空です。"),
        ({"file": None}, "file", "PDFファイルを選択してください。"),
        ({"title": " "}, "title", manuals.TITLE_REQUIRED),
        ({"title": "あ" * 101}, "title", manuals.TITLE_TOO_LONG),
        ({"comment": "い" * 256}, "comment", manuals.COMMENT_TOO_LONG),
    ],
)
def test_bad_input_shows_the_screen_again_and_stores_nothing(
    operator, dbsession, values, field, message
):
    page = upload(operator, **values, status=400)
    assert page.html.find(id=f"{field}-error").text == message
    form = page.forms["manual-upload"]
    if field != "title":
        assert form["title"].value == "給与控除の手引き"  # input kept
    assert form["audience"].value == "both"
    assert dbsession.scalar(select(func.count()).select_from(Manual)) == 0
    assert actions(dbsession) == []


def test_a_file_over_the_size_limit_is_refused(operator, dbsession, monkeypatch):
    monkeypatch.setattr(manuals, "MAX_SIZE", len(PDF) - 1)
    page = upload(operator, status=400)
    assert "MB以内にしてください" in page.html.find(id="file-error").text
    assert dbsession.scalar(select(func.count()).select_from(Manual)) == 0


def test_an_unknown_audience_is_refused_at_its_field(operator, dbsession):
    page = operator.get("/staff/manuals")
    form = page.forms["manual-upload"]
    form["title"] = "手引き"
    form["file"] = Upload("a.pdf", PDF, "application/pdf")
    form["audience"].force_value("bank")
    result = form.submit(status=400)
    assert result.html.find(id="audience-error").text == manuals.AUDIENCE_UNKNOWN
    assert dbsession.scalar(select(func.count()).select_from(Manual)) == 0


def test_manuals_are_ordered(operator, dbsession):
    for title in ("一", "二", "三"):
        upload(operator, title=title)
    assert titles(dbsession, "member") == ["一", "二", "三"]
    third = dbsession.scalars(select(Manual.id).where(Manual.title == "三")).one()
    page = operator.get("/staff/manuals")
    page = page.forms[f"move-up-{third}"].submit().follow()
    assert "表示順を変更しました。" in page.text
    assert titles(dbsession, "member") == ["一", "三", "二"]
    first = dbsession.scalars(select(Manual.id).where(Manual.title == "一")).one()
    operator.get("/staff/manuals").forms[f"move-down-{first}"].submit()
    assert titles(dbsession, "member") == ["三", "一", "二"]
    operator.get("/staff/manuals").forms[f"move-up-{third}"].submit()  # already first
    assert titles(dbsession, "member") == ["三", "一", "二"]
    assert actions(dbsession).count("bank.manual.reorder") == 3


def test_a_withdrawn_manual_leaves_the_customers_list(operator, dbsession):
    upload(operator, title="旧版")
    upload(operator, title="新版")
    old = dbsession.scalars(select(Manual.id).where(Manual.title == "旧版")).one()
    page = operator.get("/staff/manuals").forms[f"withdraw-{old}"].submit().follow()
    assert "マニュアルの掲載を終了しました。" in page.text
    assert "掲載終了（" in page.html.find(id=f"manual-{old}").text
    assert titles(dbsession, "member") == ["新版"]
    assert manuals.visible_manual(dbsession, "member", old) is None  # 表示 is 404 alike
    assert dbsession.get(Manual, old) is not None  # kept for the audit trail
    assert actions(dbsession)[-1] == "bank.manual.withdraw"
    # Withdrawing it again, or moving it, changes nothing.
    token = csrf_token(operator)
    again = operator.post(f"/staff/manuals/{old}/withdraw", {"csrf_token": token}, status=404)
    assert manuals.NOT_FOUND in again.text
    operator.post(
        f"/staff/manuals/{old}/move", {"csrf_token": token, "direction": "up"}, status=404
    )
    assert actions(dbsession).count("bank.manual.withdraw") == 1


def test_only_content_managers_reach_the_screen_and_posts_need_csrf(staff_app, operator):
    approver = staff_client(staff_app, "staff02", [StaffRole.APPROVER])
    approver.get("/staff/manuals", status=403)
    approver.post("/staff/manuals", status=403)
    assert "マニュアル管理" not in approver.get("/staff/").text
    assert operator.get("/staff/").html.find("a", string="マニュアル管理") is not None
    operator.post("/staff/manuals", {"title": "x"}, status=400)  # no CSRF token
    operator.post("/staff/manuals/1/withdraw", {}, status=400)


def test_cjs_bank_publish_forms_publishes_the_forms_once(db_url, dbsession, tmp_path: Path, capsys):
    """A fresh installation: the forms customers print (001 p.43-46), printed with the bank's name,
    for their audiences; a second run changes nothing."""
    ini = tmp_path / "cjs.ini"
    ini.write_text(f"[app:main]\nuse = egg:cjs\nsqlalchemy.url = {db_url}\n", encoding="utf-8")
    args = [
        "-c",
        str(ini),
        "bank",
        "publish-forms",
        "--bank-name",
        "中央労働金庫",
        "--fax",
        "03-0000-0000",
    ]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"form published: {form.title}" for form in FORMS
    ]
    assert titles(dbsession, "member") == [
        "初期パスワード届出書（会員向け）",
        "マスターユーザー削除・電子証明書失効等依頼書",
    ]
    assert titles(dbsession, "employer") == [
        "初期パスワード届出書（事業主向け）",
        "マスターユーザー削除・電子証明書失効等依頼書",
    ]
    assert cli.main(args) == 0
    assert capsys.readouterr().out == "forms: no change\n"
    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(Manual)) == 3
    events = dbsession.scalars(select(AuditEvent)).all()
    assert [(e.action, e.actor) for e in events] == [("bank.manual.register", "publish-forms")] * 3


def test_publish_forms_prints_the_bank_on_the_request_form(dbsession):
    bank = BankInfo(name="中央労働金庫", fax="03-0000-0000")
    manuals.publish_forms(dbsession, bank)
    form = dbsession.scalars(select(Manual).where(Manual.title == REQUEST_TITLE)).one()
    assert form.content == request_form(bank) != request_form(BankInfo())
    assert manuals.publish_forms(dbsession, BankInfo()) == []
