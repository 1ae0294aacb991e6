"""マニュアル照会 (SPEC section 2, 共通機能; BANK-7): the manuals and forms the bank registered for 会員,
事業主 or both — 登録件数, 表示, No, マニュアル名, コメント, size — viewed and downloaded under their
Japanese names (RFC 6266 ``filename*``); the demo is seeded with PDFs the project generates."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest
from conftest import Customer
from sqlalchemy import func, select

from core.auth.passwords import hash_password
from core.bank import manuals
from core.bank.paper_forms import DEMO_DOCUMENTS
from core.db.models import AuditEvent, Contract, Manual, User

PASSWORD = "Passw0rd!"
#: What the registration's check takes for a whole PDF: its header and its end marker.
MINIMAL_PDF = b"%PDF-1.4\n%%EOF\n"

MEMBER_TITLES = [
    "操作マニュアル【会員編】",
    "初期パスワード届出書（会員向け）",
    "マスターユーザー削除・電子証明書失効等依頼書",
]
EMPLOYER_TITLES = [
    "操作マニュアル【事業主編】",
    "初期パスワード届出書（事業主向け）",
    "マスターユーザー削除・電子証明書失効等依頼書",
]


def log_in(customer, user_id, password, email):
    """FLOW-2 then FLOW-4 to DC671101 (the first deposit group where there are several)."""
    data, _ = customer.issue(user_id, password, email)
    customer.app.reset()
    customer.use_certificate(data, password)
    page = customer.login(password)
    if "DC590101" in page.text:
        page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert "DC671101" in page.text
    customer.db.rollback()  # SQLite: no stale read snapshot before the test writes
    return customer.app


@pytest.fixture
def seeded(bank, dbsession):
    """The demo's generated manuals and forms, registered."""
    added = manuals.seed_demo_manuals(dbsession)
    dbsession.commit()
    return added


@pytest.fixture
def member(customer, seeded):
    """The master of the member contract 10000001, logged in."""
    customer.register_master()
    customer.app.reset()
    return log_in(customer, "master01", PASSWORD, "taro@example.com")


@pytest.fixture
def employer(app, dbsession, seeded):
    """The master of the employer contract 20000001, logged in."""
    customer = Customer.of(app, dbsession)
    customer.register_master(
        contract_no="20000001",
        initial_password="Demo#002",
        user_id="employer01",
        user_name="事業　花子",
        email="hanako@example.com",
    )
    customer.app.reset()
    return log_in(customer, "employer01", PASSWORD, "hanako@example.com")


def manual_id(dbsession, title):
    dbsession.rollback()
    return dbsession.scalars(select(Manual.id).where(Manual.title == title)).one()


def listed(page):
    """(No, マニュアル名, コメント, size) of each row of the list."""
    rows = page.html.select("#manuals-table tbody tr")
    return [tuple(td.get_text(strip=True) for td in row.find_all("td")[1:]) for row in rows]


# --- Seeding ---------------------------------------------------------------------------------------


def test_seeding_the_demo_manuals_is_idempotent(seeded, dbsession):
    """BANK-7: two operation manuals and the three forms, once, by title; audited."""
    assert seeded == [document.title for document in DEMO_DOCUMENTS]
    assert manuals.seed_demo_manuals(dbsession) == []
    dbsession.commit()
    rows = dbsession.scalars(select(Manual).order_by(Manual.id)).all()
    assert len(rows) == 5
    for row in rows:
        assert row.content.startswith(b"%PDF-") and row.size == len(row.content)
        assert row.content_type == "application/pdf"
        assert row.filename == f"{row.title}.pdf"
    audiences = {row.title: row.audience for row in rows}
    assert audiences["操作マニュアル【会員編】"] == "member"
    assert audiences["初期パスワード届出書（事業主向け）"] == "employer"
    assert audiences["マスターユーザー削除・電子証明書失効等依頼書"] == "both"
    registered = select(func.count()).where(AuditEvent.action == "bank.manual.register")
    assert dbsession.scalar(registered) == 5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": " "}, "マニュアル名を入力してください。"),
        ({"title": "あ" * 101}, "100文字以内"),
        ({"comment": "い" * 256}, "255文字以内"),
        ({"audience": "bank"}, "会員・事業主・両方"),
        ({"content_type": "text/html"}, "PDFファイルだけ"),
        ({"content": b"<html><script>alert(1)</script>"}, "PDFファイルではありません。"),
        ({"content": b""}, "ファイルが空です。"),
        ({"content": b"%PDF-1.4\n1 0 obj"}, "PDFファイルではありません。"),  # cut short
    ],
)
def test_register_manual_refuses_what_is_not_a_pdf_manual(dbsession, fields, message):
    values = {
        "title": "テスト",
        "content": MINIMAL_PDF,
        "audience": "both",
        "actor": "staff01",
    }
    values.update(fields)
    with pytest.raises(manuals.ManualError, match=message):
        manuals.register_manual(dbsession, **values)


def test_register_manual_makes_the_file_name_safe(dbsession):
    manual = manuals.register_manual(
        dbsession,
        title="様式/第1号:改訂版",
        content=MINIMAL_PDF,
        audience="member",
        actor="staff01",
    )
    assert manual.filename == "様式_第1号_改訂版.pdf" and manual.size == len(MINIMAL_PDF)


# --- The list --------------------------------------------------------------------------------------


def test_a_member_contract_sees_the_member_and_common_manuals(member):
    """BANK-7: 会員 sees those for 会員 and for both; 登録件数; 表示, No, マニュアル名, コメント."""
    page = member.get("/manuals")
    assert "マニュアル照会" in page.text and "登録件数：3件" in page.text
    headers = [th.get_text(strip=True) for th in page.html.select("#manuals-table thead th")]
    assert headers == ["表示", "No", "マニュアル名", "コメント", "サイズ"]
    rows = listed(page)
    assert [row[1] for row in rows] == MEMBER_TITLES
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert rows[0][2] == "ログインと電子証明書の発行（抜粋・サンプル）"
    assert all(re.fullmatch(r"\d+\sKB", row[3]) for row in rows)
    assert "事業主編" not in page.text


def test_an_employer_contract_sees_the_employer_and_common_manuals(employer):
    page = employer.get("/manuals")
    assert "登録件数：3件" in page.text
    assert [row[1] for row in listed(page)] == EMPLOYER_TITLES
    assert "会員編" not in page.text


def test_a_general_user_sees_the_manuals_too(member, app, dbsession):
    """共通機能: every user, not only the master."""
    dbsession.rollback()
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    dbsession.add(
        User(
            contract_id=contract.id,
            user_id="general01",
            role="general",
            name="労金　次郎",
            email="jiro@example.com",
            password_hash=hash_password("Genera1#pw"),
        )
    )
    dbsession.commit()
    general = log_in(Customer.of(app, dbsession), "general01", "Genera1#pw", "jiro@example.com")
    assert [row[1] for row in listed(general.get("/manuals"))] == MEMBER_TITLES


def test_no_manual_registered(customer, dbsession):
    customer.register_master()
    customer.app.reset()
    app = log_in(customer, "master01", PASSWORD, "taro@example.com")
    page = app.get("/manuals")
    assert "登録件数：0件" in page.text and "登録されているマニュアルはありません。" in page.text


# --- View and download -----------------------------------------------------------------------------


def test_view_shows_the_pdf_inline_under_its_japanese_name(member, dbsession):
    """RFC 6266: filename*=UTF-8''… plus an ASCII filename= fallback; the right content type."""
    number = manual_id(dbsession, "操作マニュアル【会員編】")
    page = member.get("/manuals")
    response = page.click(description="表示", href=rf"/manuals/{number}$")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="manual-{number}.pdf"; '
        f"filename*=UTF-8''{quote('操作マニュアル【会員編】.pdf', safe='')}"
    )
    stored = dbsession.get(Manual, number)
    assert response.body == stored.content
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_download_is_an_attachment(member, dbsession):
    number = manual_id(dbsession, "マスターユーザー削除・電子証明書失効等依頼書")
    response = member.get(f"/manuals/{number}/download")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(
        f"attachment; filename=\"manual-{number}.pdf\"; filename*=UTF-8''"
    )
    assert unquote(disposition.split("UTF-8''")[1]) == (
        "マスターユーザー削除・電子証明書失効等依頼書.pdf"
    )
    assert response.content_type == "application/pdf"
    assert response.body.startswith(b"%PDF-")
    page = member.get("/manuals")
    link = page.html.find("a", href=lambda href: href.endswith(f"/manuals/{number}/download"))
    assert link is not None and link.has_attr("download")


def test_a_manual_of_the_other_audience_is_not_found(member, employer, dbsession):
    """BANK-7: a 会員 user cannot open the 事業主 manual by its URL, nor the reverse."""
    for_employers = manual_id(dbsession, "操作マニュアル【事業主編】")
    for_members = manual_id(dbsession, "初期パスワード届出書（会員向け）")
    common = manual_id(dbsession, "マスターユーザー削除・電子証明書失効等依頼書")
    member.get(f"/manuals/{for_employers}", status=404)
    member.get(f"/manuals/{for_employers}/download", status=404)
    employer.get(f"/manuals/{for_members}", status=404)
    employer.get(f"/manuals/{for_members}/download", status=404)
    assert member.get(f"/manuals/{common}").status_int == 200
    assert employer.get(f"/manuals/{common}/download").status_int == 200
    member.get("/manuals/999999", status=404)
    member.get("/manuals/abc", status=404)


def test_anonymous_requests_go_to_the_top_page(testapp, seeded, dbsession):
    number = manual_id(dbsession, "マスターユーザー削除・電子証明書失効等依頼書")
    for url in ("/manuals", f"/manuals/{number}", f"/manuals/{number}/download"):
        response = testapp.get(url)
        assert response.status_int == 302 and response.location.endswith("/"), url


def test_the_common_menu_has_manuals(member):
    """SPEC section 2: 共通機能 → マニュアル照会."""
    link = member.get("/info").html.find("a", string="マニュアル照会")
    assert link is not None and link["href"].endswith("/manuals")
