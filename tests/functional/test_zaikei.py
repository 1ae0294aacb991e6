"""財形貯蓄事務 (#13 item 4; SPEC 6.4, ACC-7, BANK-6), on the pattern of 一斉積立: the bank's runs
(the last three of each document kept), savings details and change details loaded all or nothing;
the 作成基準日 panel of the 財形 information screen; the inquiry, the PDF and the CSV; 非表示."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
from typing import Any

import pytest
from conftest import Customer
from sqlalchemy import func, select

from core.auth.passwords import hash_password
from core.bank import loaders
from core.db import get_session_factory
from core.db.models import Contract, User, UserRestriction
from core.security.tenancy import unscoped
from core.web.language import LANGUAGE_COOKIE
from plugins.zaikei.loader import (
    CHANGE_COLUMNS,
    DETAIL_COLUMNS,
    RUN_COLUMNS,
    ChangesLoader,
    DetailsLoader,
    RunsLoader,
)
from plugins.zaikei.models import ZaikeiDetail, ZaikeiRun

CODE = "zaikei"
PASSWORD = "Passw0rd!"
KEY = ["20000001", "00000001"]


def cp932(columns: Any, rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in columns])
    writer.writerows(rows)
    return buffer.getvalue().encode("cp932")


def person(n: int) -> list[str]:
    names = [("ﾀｶﾊｼ ｲﾁﾛｳ", "髙橋　一郎"), ("ｻﾄｳ ﾊﾅｺ", "佐藤　花子"), ("ﾜﾀﾅﾍﾞ ﾐｻｷ", "渡邉　美咲")]
    kana, kanji = names[n % 3]
    return [f"{n:06d}", kana, kanji]


def load(app: Any, loader: Any, data: bytes) -> loaders.LoadReport:
    factory = get_session_factory(app.registry)
    return loaders.load_data(
        factory, loader, data, "f.csv", now=dt.datetime.now(dt.UTC), module=CODE
    )


def load_demo_like(app: Any, employees: int = 70) -> None:
    """Runs: four monthly 預入依頼書 (the oldest dropped), one 加入者残高一覧表; details of the newest."""
    runs = [[*KEY, "1", d] for d in ("20260720", "20260820", "20260918", "20261020")]
    load(app, RunsLoader(), cp932(RUN_COLUMNS, [*runs, [*KEY, "4", "20260930"]]))
    key = [*KEY, "1", "20261020"]
    details = [
        [*key, *person(n), "1", 10000, 30000, 30000, 250000 + n] for n in range(1, employees + 1)
    ]
    load(app, DetailsLoader(), cp932(DETAIL_COLUMNS, details))
    changes = [[*key, *person(n), "1", "2", 5000, 10000] for n in range(1, 4)]
    load(app, ChangesLoader(), cp932(CHANGE_COLUMNS, changes))


def test_the_last_three_runs_of_a_document_are_kept(app, bank, dbsession):
    load_demo_like(app)
    dbsession.rollback()
    dates = dbsession.scalars(
        unscoped(select(ZaikeiRun.basis_date).where(ZaikeiRun.document == "1"), "test")
    ).all()
    assert sorted(dates) == [dt.date(2026, 8, 20), dt.date(2026, 9, 18), dt.date(2026, 10, 20)]
    count = unscoped(select(func.count(ZaikeiDetail.id)), "test")
    assert dbsession.scalar(count) == 70
    # Loading the same details file again, or a run already there, changes nothing.
    load_demo_like(app)
    dbsession.rollback()
    assert dbsession.scalar(count) == 70


def test_a_bad_row_refuses_the_file_naming_line_column_and_value(app, bank, dbsession):
    load_demo_like(app, employees=1)
    key = [*KEY, "1", "20261020"]
    data = cp932(
        DETAIL_COLUMNS, [[*key, *person(2), "1", 1, 1, 1, 1], [*key, *person(3), "4", 1, 1, 1, 1]]
    )
    with pytest.raises(loaders.LoadRefused) as refused:
        load(app, DetailsLoader(), data)
    assert [(e.line, e.column, e.value) for e in refused.value.errors] == [(3, "財形種類", "4")]
    dbsession.rollback()
    assert dbsession.scalar(unscoped(select(func.count(ZaikeiDetail.id)), "test")) == 1


def logged_in(app: Any, dbsession: Any, user_id: str, email: str) -> tuple[Any, Any]:
    customer = Customer.of(app, dbsession)
    data, _ = customer.issue(user_id, PASSWORD, email)
    customer.app.reset()
    customer.use_certificate(data, PASSWORD)
    return customer.app, customer.login(PASSWORD)


@pytest.fixture
def employer(app, bank, dbsession):
    load_demo_like(app)
    Customer.of(app, dbsession).register_master(
        contract_no="20000001", initial_password="Demo#002", user_id="employer01",
        email="employer01@example.com",
    )  # fmt: skip
    return logged_in(app, dbsession, "employer01", "employer01@example.com")


def test_the_zaikei_information_screen_shows_each_basis_date(employer):
    """SPEC 6.4: 作成基準日 of 預入依頼書 (月例…) and 加入者残高一覧表; no 奨励金 without its runs."""
    _, info = employer
    panel = info.html.select_one("#zaikei-basis-dates")
    assert panel is not None
    # the dates as 001 p.24 writes them (2012年10月16日)
    assert "2026年10月20日" in panel.text and "加入者残高一覧表" in panel.text
    assert "2026年09月30日" in panel.text and "奨励金" not in panel.text
    assert "ご契約がない場合は表示されません" in info.text


def test_inquiry_pdf_and_csv(employer, tmp_path):
    client, info = employer
    page = info.click("財形積立明細照会")
    assert "抽出件数：70件（1～50件目を表示）" in page.text and "1 / 2 ページ" in page.text
    kana = client.get("/m/zaikei/", {"kana": "さとう"})
    assert "抽出件数：24件" in kana.text  # n % 3 == 1 of 1..70
    names = {tr.select("td")[3].text for tr in kana.html.select("#details-table tbody tr")}
    assert names == {"佐藤　花子"}
    options = [o.text.strip() for o in page.html.select("#run option")]
    assert options[0] == "2026年10月20日 預入依頼書（月例）"

    pdf = client.get("/m/zaikei/outputs").click("財形積立明細書", href="details-pdf")
    assert pdf.content_type == "application/pdf"
    tool = shutil.which("pdftotext")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is missing (poppler-utils)")
    else:
        path = tmp_path / "zaikei.pdf"
        path.write_bytes(pdf.body)
        text = subprocess.run(
            [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert (
            "財形積立明細書" in text
            and "株式会社デモ商事" in text
            and "作成基準日 2026年10月20日" in text
        )
        assert "ｻﾄｳ ﾊﾅｺ" in text and "合計件数" in text and "70件" in text

    data = client.get("/m/zaikei/export").click("財形積立明細", href="details-csv.run=[0-9]+$")
    rows = list(csv.reader(io.StringIO(data.body.decode("cp932"))))
    assert rows[0][:4] == ["帳票", "作成基準日", "職員番号", "カナ氏名"]
    assert rows[1] == [
        "預入依頼書（月例）",
        "20261020",
        *person(1),
        "一般",
        "10000",
        "30000",
        "30000",
        "250001",
    ]
    changes = client.get("/m/zaikei/output/changes-csv")
    assert len(list(csv.reader(io.StringIO(changes.body.decode("cp932"))))) == 4


def test_a_user_with_zaikei_hidden_sees_no_trace_and_gets_403(app, bank, dbsession):
    """ACC-7 非表示 on the 財形 screen: no menu, no 作成基準日 panel, 403 on the module's URLs."""
    load_demo_like(app)
    Customer.of(app, dbsession).register_master(
        contract_no="20000001", initial_password="Demo#002", user_id="employer01",
        email="employer01@example.com",
    )  # fmt: skip
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "20000001")).one()
    user = User(
        contract_id=contract.id, user_id="general02", role="general", name="一般　次郎",
        email="general02@example.com", password_hash=hash_password(PASSWORD),
    )  # fmt: skip
    user.restrictions.append(UserRestriction(module_code=CODE, level="hide"))
    dbsession.add(user)
    dbsession.commit()
    client, info = logged_in(app, dbsession, "general02", "general02@example.com")
    assert "財形貯蓄事務" not in info.text and "作成基準日" not in info.text
    for path in ("/", "/outputs", "/export", "/output/details-pdf", "/output/details-csv"):
        client.get(f"/m/zaikei{path}", status=403)


def test_an_english_customer_sees_zaikei_and_its_pdf_in_english(employer, tmp_path):
    """#15 item 3, SPEC 8: the menu, the 作成基準日 panel, the inquiry (a 財形種類 in English) and
    the PDF's headings in English; the names stay as written, the CSV stays Japanese."""
    client, _ = employer
    client.set_cookie(LANGUAGE_COOKIE, "en")
    info = client.get("/info")
    menu = info.html.select_one("#menu-zaikei")
    assert menu is not None
    assert menu.find_previous_sibling("span").text == "Asset-formation savings"
    assert [a.text for a in menu.select("a")] == [
        "Asset-formation savings inquiry",
        "Asset-formation savings statements (PDF)",
        "Asset-formation savings data export (CSV)",
    ]
    panel = info.html.select_one("#zaikei-basis-dates")
    assert panel is not None and panel.caption.text == "Reference date"
    assert [th.text for th in panel.select("th")] == [
        "Deposit requests",
        "Member balance list",
        "Monthly",
        "Summer bonus",
        "Year-end bonus",
    ]
    assert "are not shown if you have no contract for them" in info.text

    page = info.click("Asset-formation savings inquiry")
    options = [o.text.strip() for o in page.html.select("#run option")]
    assert options[0] == "2026-10-20 Deposit request (monthly)"
    first = page.html.select_one("#details-table tbody tr").select("td")
    assert [cell.text for cell in first[1:5]] == [*person(1), "general"]

    outputs = client.get("/m/zaikei/outputs")
    assert "Deposit request (monthly) of 2026-10-20" in outputs.text
    response = outputs.click("Asset-formation savings statement", href="details-pdf")
    tool = shutil.which("pdftotext")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is missing (poppler-utils)")
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    path = tmp_path / "zaikei.pdf"
    path.write_bytes(response.body)
    text = subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Asset-formation savings statement: Deposit request (monthly)" in text
    assert "株式会社デモ商事" in text and "Reference date 2026-10-20" in text
    for heading in ("Employee number", "Kind", "Monthly", "Summer bonus", "Balance"):
        assert heading in text
    assert "ｻﾄｳ ﾊﾅｺ" in text and "Number of lines" in text and "Total balance" in text
    line = next(line for line in text.splitlines() if " 000001 " in line)
    assert "general" in line and "一般" not in line
    for japanese in ("財形", "ページ", "合計", "作成基準日", "一般"):
        assert japanese not in text

    data = client.get("/m/zaikei/output/details-csv")
    rows = list(csv.reader(io.StringIO(data.body.decode("cp932"))))
    assert rows[0][:4] == ["帳票", "作成基準日", "職員番号", "カナ氏名"]
    assert rows[1][0] == "預入依頼書（月例）" and rows[1][5] == "一般"
