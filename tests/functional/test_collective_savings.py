"""一斉積立事務 end to end (#13 items 2, 3, 5, 6, 7; SPEC 6.3, ACC-7, BANK-6): the bank's files
loaded all or nothing and idempotently, the data scoped to its contract and deposit group, the
inquiry screen, the PDF lists and the CSV exports, the information panel, and 非表示."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
from typing import Any

import pytest
from conftest import DEMO_BANK_FILE, MASTER, Customer
from sqlalchemy import func, insert, select

from core import cli
from core.auth.passwords import hash_password
from core.bank import loaders
from core.bank.config import apply_file_with_settings
from core.db import get_session_factory
from core.db.models import AuditEvent, Contract, DepositGroup, User, UserRestriction
from core.hookspecs import OutputContext
from core.security.tenancy import UnscopedQuery, scope_values, scoped_select, unscoped
from core.settings import validate
from core.web.language import LANGUAGE_COOKIE
from plugins.collective_savings import outputs, savings
from plugins.collective_savings.loader import (
    CHANGE_COLUMNS,
    DETAIL_COLUMNS,
    ROUND_COLUMNS,
    ChangesLoader,
    DetailsLoader,
    RoundsLoader,
)
from plugins.collective_savings.models import SavingsDetail, SavingsRound

CODE = "collective_savings"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
PASSWORD = "Passw0rd!"
SURNAMES = [("髙橋", "ﾀｶﾊｼ"), ("佐藤", "ｻﾄｳ"), ("渡邉", "ﾜﾀﾅﾍﾞ"), ("山﨑", "ﾔﾏｻﾞｷ"), ("鈴木", "ｽｽﾞｷ")]
GIVEN = [("一郎", "ｲﾁﾛｳ"), ("花子", "ﾊﾅｺ"), ("翔太", "ｼｮｳﾀ"), ("美咲", "ﾐｻｷ")]
SECOND_CONTRACT = """
[[contracts]]
contract_no = "10000002"
kind = "member"
organisation_name = "別組合"
initial_password = "Demo#003"

[[contracts.deposit_groups]]
group_no = "00000001"
name_kanji = "別本部"
name_kana = "ﾍﾞﾂﾎﾝﾌﾞ"
modules = { collective_savings = {} }
"""


def person(number: int) -> list[str]:
    """Employee ``number`` of the test data: 職員番号, カナ氏名, 漢字氏名, 店番, 口座番号."""
    (surname, surname_kana) = SURNAMES[number % len(SURNAMES)]
    (given, given_kana) = GIVEN[number // len(SURNAMES) % len(GIVEN)]
    kana, kanji = f"{surname_kana} {given_kana}", f"{surname}　{given}"
    return [f"{number:06d}", kana, kanji, "101", f"{1000000 + number:07d}"]


def cp932(rows: list[list[Any]], columns: Any = None) -> bytes:
    """A file of ``rows`` in cp932, headed by the names of ``columns`` when given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if columns is not None:
        writer.writerow([column.name for column in columns])
    writer.writerows(rows)
    return buffer.getvalue().encode("cp932")


def rounds_file(contract_no: str = "10000001", group_no: str = "00000001") -> bytes:
    return cp932(
        [
            [contract_no, group_no, "013", "定例積立", "20260910", "0"],
            [contract_no, group_no, "014", "特別積立", "20261014", "1"],
        ],
        ROUND_COLUMNS,
    )


def details_file(
    count: int, round_no: str = "014", contract_no: str = "10000001", group_no: str = "00000001"
) -> bytes:
    key = [contract_no, group_no, round_no]
    rows = [[*key, *person(n), 1000 * (n % 30 + 1)] for n in range(1, count + 1)]
    return cp932(rows, DETAIL_COLUMNS)


def changes_file(contract_no: str = "10000001", group_no: str = "00000001") -> bytes:
    key = [contract_no, group_no, "014"]
    rows = [[*key, *person(n), "2", 5000, 1000 * (n % 30 + 1)] for n in range(1, 6)]
    return cp932(rows, CHANGE_COLUMNS)


def load(app: Any, loader: Any, data: bytes, name: str = "file.csv") -> loaders.LoadReport:
    factory = get_session_factory(app.registry)
    return loaders.load_data(factory, loader, data, name, now=dt.datetime.now(dt.UTC), module=CODE)


def load_all(app: Any, contract_no: str = "10000001", group_no: str = "00000001") -> None:
    """Rounds 013 and 014; 120 details in 014 and 30 in 013; 5 changes in 014."""
    load(app, RoundsLoader(), rounds_file(contract_no, group_no))
    load(app, DetailsLoader(), details_file(120, "014", contract_no, group_no))
    load(app, DetailsLoader(), details_file(30, "013", contract_no, group_no))
    load(app, ChangesLoader(), changes_file(contract_no, group_no))


def group(dbsession: Any, contract_no: str = "10000001", group_no: str = "00000001") -> Any:
    dbsession.rollback()
    return dbsession.scalars(
        select(DepositGroup)
        .join(Contract)
        .where(Contract.contract_no == contract_no, DepositGroup.group_no == group_no)
    ).one()


def count(dbsession: Any, model: Any) -> int:
    dbsession.rollback()
    return int(dbsession.scalar(unscoped(select(func.count(model.id)), "test")))


@pytest.fixture
def two_contracts(app, app_settings, tmp_path):
    """The demo contracts and a second 会員 contract 10000002 with 一斉積立."""
    path = tmp_path / "bank.toml"
    path.write_text(DEMO_BANK_FILE.read_text(encoding="utf-8") + SECOND_CONTRACT, "utf-8")
    apply_file_with_settings(validate(app_settings), path)


# --- loaders (BANK-6, #13 item 5) ---------------------------------------------------------------


def test_a_bad_row_at_the_end_of_a_50000_row_file_stores_nothing_and_names_the_line(
    app, bank, dbsession
):
    """#13 acceptance: one bad row, the last of 50,001 (line 50,002 after the header), refuses the
    file; the error names its line, column and value in Japanese; nothing of the 50,000 good rows is
    stored, no audit event."""
    load(app, RoundsLoader(), rounds_file())
    good = details_file(50_000)
    bad = cp932(
        [
            [
                "10000001",
                "00000001",
                "014",
                "999999",
                "ﾛｳｷﾝ ﾀﾛｳ",
                "労金　太郎",
                "101",
                "12a4567",
                "100",
            ]
        ]
    )

    with pytest.raises(loaders.LoadRefused) as refused:
        load(app, DetailsLoader(), good + bad, "details.csv")

    [error] = refused.value.errors
    assert (error.line, error.column, error.value) == (50_002, "口座番号", "12a4567")
    assert error.message == "半角数字7桁で指定してください。"
    assert count(dbsession, SavingsDetail) == 0
    actions = dbsession.scalars(select(AuditEvent.action)).all()
    assert "load.collective_savings.details" not in actions


def test_every_bad_cell_is_reported_with_line_column_and_value(app, bank):
    load(app, RoundsLoader(), rounds_file())
    key = ["10000001", "00000001", "014"]
    data = cp932(
        [
            [*key, *person(1), 100],
            [*key, "000002", "ロウキン", "労金　次郎", "101", "1234567", 100],  # full-width kana
            [*key, "000003", "ﾛｳｷﾝ", "ﾛｳｷﾝ", "101", "1234567", "1,000"],
            [*key, *person(1), 100],  # the same employee again
            ["10000001", "00000009", "014", *person(4), 100],
            [*key, "000005"],
        ],
        DETAIL_COLUMNS,
    )
    with pytest.raises(loaders.LoadRefused) as refused:
        load(app, DetailsLoader(), data)
    assert [(e.line, e.column, e.value) for e in refused.value.errors] == [
        (3, "カナ氏名", "ロウキン"),
        (4, "漢字氏名", "ﾛｳｷﾝ"),
        (4, "積立金額", "1,000"),
        (5, "職員番号", "000001"),
        (6, "入金グループ", "00000009"),
        (7, "", ""),
    ]
    assert loaders.describe(refused.value.errors[1]) == (
        "4: [漢字氏名] 「ﾛｳｷﾝ」 全角20文字以内で指定してください。"
    )


def test_a_file_not_in_cp932_names_the_line(app, bank):
    data = rounds_file() + b"10000001,00000001,015,\x85\x40,20261101,0\r\n"  # not cp932
    with pytest.raises(loaders.LoadRefused) as refused:
        load(app, RoundsLoader(), data)
    assert refused.value.errors[0].line == 1
    assert "4行目に Shift_JIS（cp932）でない文字があります" in refused.value.errors[0].message


def test_the_same_file_twice_changes_nothing(app, bank, dbsession):
    """#13 acceptance: loading the same file again stores nothing and records no second event."""
    load_all(app)
    before = dbsession.execute(
        unscoped(select(SavingsDetail.id, SavingsDetail.employee_no, SavingsDetail.amount), "test")
    ).all()

    again = load(app, DetailsLoader(), details_file(120, "014"))

    assert again.already_loaded
    dbsession.rollback()
    after = dbsession.execute(
        unscoped(select(SavingsDetail.id, SavingsDetail.employee_no, SavingsDetail.amount), "test")
    ).all()
    assert after == before
    assert count(dbsession, SavingsRound) == 2


def test_a_corrected_file_replaces_its_round_never_doubles(app, bank, dbsession):
    load_all(app)
    corrected = details_file(121, "014")  # one employee more

    report = load(app, DetailsLoader(), corrected)

    assert (report.rows, report.already_loaded) == (121, False)
    assert count(dbsession, SavingsDetail) == 121 + 30
    renamed = cp932(
        [["10000001", "00000001", "014", "特別積立（訂正）", "20261014", "1"]], ROUND_COLUMNS
    )
    load(app, RoundsLoader(), renamed)
    dbsession.rollback()
    names = dbsession.scalars(unscoped(select(SavingsRound.name), "test")).all()
    assert sorted(names) == ["定例積立", "特別積立（訂正）"]


def test_details_of_a_round_not_loaded_are_refused(app, bank):
    with pytest.raises(loaders.LoadRefused) as refused:
        load(app, DetailsLoader(), details_file(1, "099"))
    assert refused.value.errors[0].message == "この回号の一斉積立回が取り込まれていません。"


def test_cjs_bank_load_reports_each_error_and_loads_a_good_file(
    app, bank, app_settings, tmp_path, capsys, dbsession
):
    ini = tmp_path / "cjs.ini"
    settings = "".join(f"{key} = {value}\n" for key, value in app_settings.items())
    ini.write_text(f"[app:main]\nuse = egg:cjs\n{settings}", encoding="utf-8")
    rounds = tmp_path / "rounds.csv"
    rounds.write_bytes(rounds_file())
    bad = tmp_path / "bad.csv"
    bad.write_bytes(rounds_file() + cp932([["10000001", "00000001", "015", "名", "20261332", "2"]]))

    assert cli.main(["-c", str(ini), "bank", "load", CODE, "rounds", str(bad)]) == 1
    errors = capsys.readouterr().err
    assert f"{bad}:4: [作成日] 「20261332」 日付は YYYYMMDD" in errors
    assert f"{bad}:4: [作成区分] 「2」 0、1 のいずれかで指定してください。" in errors
    assert cli.main(["-c", str(ini), "bank", "load", CODE, "rounds", str(rounds)]) == 0
    assert cli.main(["-c", str(ini), "bank", "load", CODE, "rounds", str(rounds)]) == 0
    assert capsys.readouterr().out == (
        "rounds: 2 row(s) loaded\nrounds: already loaded, nothing changed\n"
    )
    assert count(dbsession, SavingsRound) == 2


# --- tenancy (ACC-7, #13 item 7) ----------------------------------------------------------------


def test_an_unscoped_query_of_module_data_is_refused(app, bank, dbsession):
    """A module cannot forget the scope: a bare SELECT or DELETE of its table raises."""
    load_all(app)
    dbsession.rollback()
    with pytest.raises(UnscopedQuery, match="scoped_select"):
        dbsession.scalars(select(SavingsDetail)).all()
    with pytest.raises(UnscopedQuery):
        dbsession.execute(select(func.count()).select_from(SavingsDetail)).all()
    dbsession.rollback()
    assert len(dbsession.scalars(scoped_select(group(dbsession), SavingsDetail)).all()) == 150


def test_a_second_contracts_data_is_never_visible(app, two_contracts, dbsession):
    """#13 acceptance: the same round numbers in two contracts; each sees only its own."""
    load_all(app)
    load(app, RoundsLoader(), rounds_file("10000002"))
    other = cp932(
        [["10000002", "00000001", "014", "777777", "ﾍﾞﾂ ｸﾐｱｲ", "別　組合", "101", "7777777", 7]],
        DETAIL_COLUMNS,
    )
    load(app, DetailsLoader(), other)
    mine, theirs = group(dbsession), group(dbsession, "10000002")

    for scope, expected in ((mine, 120), (theirs, 1)):
        latest = savings.latest_round(dbsession, scope)
        assert latest is not None and latest.contract_id == scope.contract_id
        lines = dbsession.scalars(savings.details(scope, latest)).all()
        assert len(lines) == expected
        assert {line.deposit_group_id for line in lines} == {scope.id}
    context = OutputContext(dbsession, mine, None, dt.datetime.now(dt.UTC), {"round": "014"})  # type: ignore[arg-type]
    exported = list(outputs.details_csv(context).rows)
    assert "777777" not in {row[2] for row in exported} and len(exported) == 120
    # Another group of the same contract sees nothing either.
    assert savings.rounds_of(dbsession, group(dbsession, "10000001", "00000002")) == []


# --- screens, outputs, information panel (#13 items 2, 3, 6) ------------------------------------


def logged_in(app: Any, dbsession: Any, user_id: str, email: str) -> Any:
    customer = Customer.of(app, dbsession)
    data, _ = customer.issue(user_id, PASSWORD, email)
    customer.app.reset()
    customer.use_certificate(data, PASSWORD)
    page = customer.login(PASSWORD)
    page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    return customer.app


@pytest.fixture
def master(app, bank, dbsession):
    """The master of 10000001 in group 00000001, with the test rounds loaded."""
    load_all(app)
    Customer.of(app, dbsession).register_master()
    return logged_in(app, dbsession, MASTER["user_id"], MASTER["email"])


def test_the_information_panel_shows_the_latest_round(master):
    """SPEC 6.3 / 6.5: 最新受信情報 (number, name, date, 臨時作成)."""
    info = master.get("/info")
    assert "一斉積立" in info.text
    assert "014 特別積立　2026年10月14日　臨時作成" in info.text


def test_inquiry_searches_sorts_pages_and_picks_rounds(master):
    page = master.get("/info").click("一斉積立内訳明細照会")
    assert "抽出件数：120件（1～50件目を表示）" in page.text
    assert "1 / 3 ページ" in page.text
    first = [tr.select("td")[1].text for tr in page.html.select("#details-table tbody tr")]
    assert first == [f"{n:06d}" for n in range(1, 51)]

    last = page.click("最後", href="page=3")
    assert "101～120件目" in last.text
    numbers = [tr.select("td")[1].text for tr in last.html.select("#details-table tbody tr")]
    assert numbers == [f"{n:06d}" for n in range(101, 121)]

    by_amount = master.get("/m/collective_savings/?round=014&sort=amount&desc=1")
    rows = by_amount.html.select("#details-table tbody tr")
    assert rows[0].select("td")[6].text == "30,000"  # the largest first

    kana = master.get("/m/collective_savings/", {"round": "014", "kana": "たかはし"})
    names = {tr.select("td")[3].text for tr in kana.html.select("#details-table tbody tr")}
    assert names and all(name.startswith("髙橋") for name in names)
    assert "抽出件数：24件" in kana.text

    number = master.get("/m/collective_savings/", {"round": "014", "employee_no": "00011"})
    assert "抽出件数：10件" in number.text  # 000110 to 000119

    older = master.get("/m/collective_savings/", {"round": "013"})
    assert "抽出件数：30件" in older.text
    assert [o.get("value") for o in older.html.select("#round option")] == ["014", "013"]

    master.get("/m/collective_savings/", {"round": "999"}).mustcontain(
        "一斉積立のデータはまだありません。"
    )
    master.get("/m/collective_savings/", {"page": "abc", "sort": "x"}).mustcontain("1 / 3 ページ")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing (poppler-utils; the Makefile installs it)")
        pytest.skip(f"{name} is not installed (apt-get install poppler-utils)")
    return path


def test_the_pdf_lists_carry_the_names_as_written(master, tmp_path):
    """一斉積立内訳明細表 and 一斉積立変更明細表: A4, the bank's header, names extracted as written,
    totals at the end; page 1 renders to PNG."""
    pdftotext, pdftoppm = _tool("pdftotext"), _tool("pdftoppm")
    screen = master.get("/m/collective_savings/outputs?round=014")
    response = screen.click("一斉積立内訳明細表", href="details-pdf")
    assert response.content_type == "application/pdf"
    assert "filename*=UTF-8''%E4%B8%80%E6%96%89" in response.headers["Content-Disposition"]
    pdf = tmp_path / "details.pdf"
    pdf.write_bytes(response.body)
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for n in (1, 77, 120):
        number, kana, kanji, _, account = person(n)
        line = next(line for line in text.splitlines() if f" {number} " in line)
        surname, given = kanji.split("\u3000")
        assert kana in line and account in line
        assert line.index(surname) < line.index(given)  # the ideographic space comes out as spaces
    assert "デモ労働組合連合会" in text and "入金グループ 00000001 本部" in text
    assert "作成基準日 2026年10月14日" in text and "1 / 3 ページ" in text and "3 / 3 ページ" in text
    total = sum(1000 * (n % 30 + 1) for n in range(1, 121))
    assert "合計件数" in text and "120件" in text and f"{total:,}円" in text
    subprocess.run(
        [pdftoppm, "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    png = next(tmp_path.glob("page*.png")).read_bytes()
    assert png.startswith(b"\x89PNG")

    changes = master.get("/m/collective_savings/output/changes-pdf?round=014")
    (tmp_path / "changes.pdf").write_bytes(changes.body)
    text = subprocess.run(
        [pdftotext, "-layout", str(tmp_path / "changes.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "一斉積立変更明細表" in text and person(3)[1] in text and "変更前積立金額合計" in text
    assert "25,000円" in text  # 5 changes × 5,000 before


def test_the_csv_exports_decode_as_cp932_and_match_the_data(master):
    response = master.get("/m/collective_savings/export?round=014").click(
        "一斉積立内訳明細", href="details-csv"
    )
    assert response.headers["Content-Type"] == "text/csv; charset=Windows-31J"
    rows = list(csv.reader(io.StringIO(response.body.decode("cp932"))))
    assert rows[0] == [
        "回号",
        "一斉積立名",
        "職員番号",
        "カナ氏名",
        "漢字氏名",
        "店番",
        "口座番号",
        "積立金額",
    ]
    assert rows[1:] == [
        ["014", "特別積立", *person(n), str(1000 * (n % 30 + 1))] for n in range(1, 121)
    ]

    utf8 = master.get("/m/collective_savings/output/changes-csv?round=014&encoding=utf-8")
    assert utf8.body.startswith(b"\xef\xbb\xbf")
    changes = list(csv.reader(io.StringIO(utf8.body.decode("utf-8-sig"))))
    assert changes[1] == ["014", "特別積立", *person(1), "変更", "5000", "2000"]
    master.get("/m/collective_savings/output/details-csv?round=999", status=422).mustcontain(
        "指定された回の一斉積立データがありません。"
    )


def test_a_character_outside_cp932_is_reported_not_replaced(master, dbsession):
    """#13 item 6: the export names the row and column instead of writing '?'."""
    scope = group(dbsession)
    latest = savings.latest_round(dbsession, scope)
    assert latest is not None
    dbsession.execute(
        insert(SavingsDetail),
        [
            {
                **scope_values(scope),
                "round_id": latest.id,
                "employee_no": "999999",
                "name_kana": "ﾖｼﾀﾞ",
                "name_kanji": "𠮷田　一",
                "branch_no": "101",
                "account_no": "9999999",
                "amount": 1,
            }
        ],
    )
    dbsession.commit()
    page = master.get("/m/collective_savings/output/details-csv?round=014", status=422)
    page.mustcontain("121件目の「漢字氏名」", "「𠮷」（U+20BB7）")
    utf8 = master.get("/m/collective_savings/output/details-csv?round=014&encoding=utf-8")
    assert "𠮷田" in utf8.body.decode("utf-8-sig")


def test_a_user_with_the_module_hidden_sees_no_trace_and_gets_403(app, bank, dbsession):
    """ACC-7 非表示: no menu, no information panel, 403 on every screen and output."""
    load_all(app)
    Customer.of(app, dbsession).register_master()
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    user = User(
        contract_id=contract.id,
        user_id="general01",
        role="general",
        name="一般　花子",
        email="general01@example.com",
        password_hash=hash_password(PASSWORD),
    )
    user.restrictions.append(UserRestriction(module_code=CODE, level="hide"))
    dbsession.add(user)
    dbsession.commit()
    general = logged_in(app, dbsession, "general01", "general01@example.com")

    info = general.get("/info")
    assert "一斉積立" not in info.text and "特別積立" not in info.text
    for path in (
        "/",
        "/outputs",
        "/export",
        "/output/details-pdf",
        "/output/changes-pdf",
        "/output/details-csv",
        "/output/changes-csv?round=014",
    ):
        general.get(f"/m/collective_savings{path}", status=403)


# --- in English (#15 item 3, SPEC 8) -------------------------------------------------------------


def pdf_text(response: Any, path: Any) -> str:
    """The text of a downloaded PDF, as pdftotext lays it out."""
    path.write_bytes(response.body)
    return subprocess.run(
        [_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_an_english_customer_sees_the_module_menu_and_screens_in_english(master):
    master.set_cookie(LANGUAGE_COOKIE, "en")
    info = master.get("/info")
    menu = info.html.select_one("#menu-collective_savings")
    assert menu is not None
    assert menu.find_previous_sibling("span").text == "Collective savings"
    assert [a.text for a in menu.select("a")] == [
        "Collective savings inquiry",
        "Collective savings lists (PDF)",
        "Collective savings data export (CSV)",
    ]
    latest = info.html.select_one("#latest-round").text
    assert latest == "014 特別積立, 2026-10-14 (extra round)"  # the round's name is data
    for japanese in ("一斉積立", "労金控除", "賃控元帳", "最新受信情報"):
        assert japanese not in info.text

    page = info.click("Collective savings inquiry")
    assert page.html.h1.text.strip() == "Collective savings inquiry"
    assert page.html.select_one("label[for=round]").text == "Savings round"
    options = [o.text for o in page.html.select("#round option")]
    assert options == [
        "014 特別積立 (2026-10-14, extra round)",
        "013 定例積立 (2026-09-10, regular round)",
    ]
    headings = [th.text.strip("▲▼") for th in page.html.select("#details-table thead th")]
    assert headings == [
        "No",
        "Employee number",
        "Name (kana)",
        "Name (kanji)",
        "Branch",
        "Account number",
        "Savings amount",
    ]

    outputs = master.get("/m/collective_savings/outputs?round=014")
    assert "Round 014: 特別積立 (extra round)" in outputs.text
    assert outputs.html.select_one("#btn-details-pdf").text == "Collective savings detail list"
    export = master.get("/m/collective_savings/export?round=014")
    assert export.html.select_one("#btn-changes-csv").text == "Collective savings changes"
    assert export.html.select_one("#btn-changes-csv-utf8").text == "Changes"
    master.get("/m/collective_savings/?round=999").mustcontain(
        "There is no Collective savings data yet."
    )
    master.get("/m/collective_savings/output/details-pdf?round=999", status=422).mustcontain(
        "There is no collective savings data for the round requested."
    )


def test_an_english_customers_pdfs_have_english_headings_and_the_names_as_written(master, tmp_path):
    """The PDF follows the language of the request (the cookie here, Accept-Language below); the
    Japanese font stays, so the names (data) still come out."""
    master.set_cookie(LANGUAGE_COOKIE, "en")
    response = master.get("/m/collective_savings/outputs?round=014").click(
        "Collective savings detail list", href="details-pdf"
    )
    disposition = response.headers["Content-Disposition"]
    assert "Collective%20savings%20detail%20list_" in disposition
    text = pdf_text(response, tmp_path / "details.pdf")
    assert "Collective savings detail list: Round 014: 特別積立 (extra round)" in text
    for heading in ("Employee number", "Name (kana)", "Name (kanji)", "Branch", "Savings amount"):
        assert heading in text
    assert "Deposit group 00000001 本部" in text and "Reference date 2026-10-14" in text
    assert "Page 1 of 3" in text and "Page 3 of 3" in text and "Printed " in text
    total = sum(1000 * (n % 30 + 1) for n in range(1, 121))
    assert "Number of lines" in text and "Total savings amount" in text
    assert f"{total:,} yen" in text
    number, kana, kanji, _, _ = person(77)
    line = next(line for line in text.splitlines() if f" {number} " in line)
    assert kana in line and kanji.split("\u3000")[0] in line
    for japanese in ("ページ", "合計", "入金グループ", "作成基準日", "印刷日時", "職員番号", "件"):
        assert japanese not in text

    master.set_cookie(LANGUAGE_COOKIE, "")
    changes = master.get(
        "/m/collective_savings/output/changes-pdf?round=014", headers={"Accept-Language": "en"}
    )
    text = pdf_text(changes, tmp_path / "changes.pdf")
    assert "Collective savings change list" in text and "Change type" in text
    assert "Total amount before" in text and "25,000 yen" in text
    rows = [line for line in text.splitlines() if person(3)[1] in line]
    assert rows and " Change " in rows[0]  # 変更区分 変更, in the list's language


def test_an_english_customers_csv_stays_in_the_banks_japanese_layout(master):
    master.set_cookie(LANGUAGE_COOKIE, "en")
    response = master.get("/m/collective_savings/output/changes-csv?round=014")
    assert "%E4%B8%80%E6%96%89" in response.headers["Content-Disposition"]  # 一斉… as in Japanese
    rows = list(csv.reader(io.StringIO(response.body.decode("cp932"))))
    assert rows[0][:3] == ["回号", "一斉積立名", "職員番号"]
    assert rows[1] == ["014", "特別積立", *person(1), "変更", "5000", "2000"]


def test_the_group_list_and_the_restrictions_name_the_modules_in_english(master):
    master.set_cookie(LANGUAGE_COOKIE, "en")
    groups = master.get("/groups")
    remarks = [tr.select("td")[-1].text for tr in groups.html.select("tbody tr")]
    assert remarks and all(remark and not JAPANESE.search(remark) for remark in remarks)
    assert "Collective savings" in " ".join(remarks)
    new = master.get("/users/new")
    labels = {span.text for span in new.html.select(".restriction .label, span.label")}
    assert "Collective savings" in labels
    choices = {label.text.strip() for label in new.html.select(".choices label")}
    assert {"Show", "Hide"} <= choices
    assert not {"表示", "非表示", "閲覧のみ"} & choices
