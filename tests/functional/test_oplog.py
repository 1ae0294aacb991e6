"""操作ログ照会 (SPEC section 2, システム管理機能, master only; ACC-6): the contract's audit events —
who, what, when, result — filtered, paged, exported as CSV (SPEC 6: cp932 by default, UTF-8 with BOM)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import Customer
from sqlalchemy import select

from core.auth.passwords import hash_password
from core.db.models import AuditEvent, Contract, User
from core.timefmt import JST
from core.web.language import LANGUAGE_COOKIE
from core.web.oplog import PAGE_SIZE, action_label

PASSWORD = "Passw0rd!"
GENERAL_PASSWORD = "Genera1#pw"


def log_in(customer, user_id, password, email):
    """FLOW-2 then FLOW-4 to DC671101 (the first deposit group where there are several)."""
    data, _ = customer.issue(user_id, password, email)
    customer.app.reset()
    customer.use_certificate(data, password)
    page = customer.login(password)
    if "DC590101" in page.text:
        page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert "DC671101" in page.text
    return page


@pytest.fixture
def master(customer):
    """The master of the demo member contract 10000001, logged in."""
    customer.register_master()
    customer.app.reset()
    log_in(customer, "master01", PASSWORD, "taro@example.com")
    customer.db.rollback()  # SQLite: no stale read snapshot before the test writes
    return customer.app


def add_general_user(dbsession, contract_no="10000001", user_id="general01"):
    dbsession.rollback()
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == contract_no)).one()
    dbsession.add(
        User(
            contract_id=contract.id,
            user_id=user_id,
            role="general",
            name="労金　次郎",
            email=f"{user_id}@example.com",
            password_hash=hash_password(GENERAL_PASSWORD),
        )
    )
    dbsession.commit()


@pytest.fixture
def general(app, master, dbsession):
    """A general user of the same contract, logged in in a second browser."""
    add_general_user(dbsession)
    other = Customer.of(app, dbsession)
    log_in(other, "general01", GENERAL_PASSWORD, "general01@example.com")
    dbsession.rollback()
    return other.app


def jst(*args):
    return dt.datetime(*args, tzinfo=JST)


def add_event(dbsession, when, action="login.success", **fields):
    values = {
        "actor": "master01",
        "actor_kind": "user",
        "result": "success",
        "contract_no": "10000001",
        "target": None,
        "details": {},
    }
    values.update(fields)
    dbsession.add(AuditEvent(occurred_at=when, action=action, **values))


def rows_of(page):
    """The table's rows as lists of cell texts (No, 日時, ユーザーID, 操作, 対象, 結果)."""
    table = page.html.find(id="oplog-table")
    if table is None:
        return []
    return [
        [cell.get_text(strip=True) for cell in row.find_all("td")]
        for row in table.find("tbody").find_all("tr")
    ]


IN_2020 = "date_from=2020-01-01&date_to=2020-12-31"


# --- Tenancy and columns ---------------------------------------------------------------------------


def test_the_master_sees_only_its_own_contracts_events(master, dbsession):
    """SPEC section 2 / ACC-6: the contract's audit events; never another contract's, never none's."""
    add_event(
        dbsession, jst(2020, 1, 10, 9), actor="other002", contract_no="20000001", target="FOREIGN-B"
    )
    add_event(dbsession, jst(2020, 1, 10, 9), actor="nobody01", contract_no=None, target="NONE-C")
    dbsession.commit()
    page = master.get("/oplog")
    assert "操作ログ照会" in page.text
    actions = {row[3] for row in rows_of(page)}
    # The master's own history, recorded by the flows themselves.
    assert {"マスターユーザー登録", "電子証明書発行", "ログイン"} <= actions
    assert "FOREIGN-B" not in page.text and "other002" not in page.text
    assert "NONE-C" not in page.text and "nobody01" not in page.text
    # A user of another contract cannot be chosen, even by hand.
    page = master.get("/oplog", {"user": "other002"})
    assert "選択肢から選択してください。" in page.text and rows_of(page) == []
    csv_text = master.get("/oplog/csv", {"encoding": "utf-8"}).body.decode("utf-8-sig")
    assert "FOREIGN-B" not in csv_text and "NONE-C" not in csv_text and "master01" in csv_text


def test_columns_show_japan_time_labels_and_results(master, dbsession):
    """Who, what, when (JST), result: 成功 / 失敗 / 拒否; an unknown action keeps its raw name."""
    add_event(dbsession, dt.datetime(2020, 1, 1, 0, 30, tzinfo=dt.UTC), target="master01")
    add_event(
        dbsession,
        dt.datetime(2020, 1, 1, 0, 31, tzinfo=dt.UTC),
        action="login.password",
        result="failure",
    )
    add_event(
        dbsession,
        dt.datetime(2020, 1, 1, 0, 32, tzinfo=dt.UTC),
        action="login.certificate",
        result="refused",
    )
    add_event(
        dbsession,
        dt.datetime(2020, 1, 1, 0, 33, tzinfo=dt.UTC),
        action="bank.contract.update",
        actor="bank-config",
        actor_kind="bank",
        target="10000001",
    )
    add_event(dbsession, dt.datetime(2020, 1, 1, 0, 34, tzinfo=dt.UTC), action="future.thing")
    dbsession.commit()
    page = master.get(f"/oplog?{IN_2020}")
    headers = [th.get_text(strip=True) for th in page.html.select("#oplog-table thead th")]
    assert headers == ["No", "日時", "ユーザーID", "操作", "対象", "結果"]
    assert rows_of(page) == [
        ["1", "2020/01/01 09:34:00", "master01", "future.thing", "", "成功"],
        ["2", "2020/01/01 09:33:00", "ろうきん", "契約内容変更（ろうきん）", "10000001", "成功"],
        ["3", "2020/01/01 09:32:00", "master01", "ログイン（電子証明書の確認）", "", "拒否"],
        ["4", "2020/01/01 09:31:00", "master01", "ログイン（パスワード認証）", "", "失敗"],
        ["5", "2020/01/01 09:30:00", "master01", "ログイン", "master01", "成功"],
    ]


def test_the_log_in_english(master, dbsession, clock):
    """SPEC 8, #15: on the English screens the operations, results, who, the filter's options and
    messages and the CSV (header, cells, file name) are in English; the codes stay as they are."""
    add_event(dbsession, jst(2020, 1, 1, 9, 30), target="master01")
    add_event(dbsession, jst(2020, 1, 1, 9, 31), action="login.password", result="failure")
    add_event(dbsession, jst(2020, 1, 1, 9, 32), action="register.initial_password.locked_now")
    add_event(
        dbsession,
        jst(2020, 1, 1, 9, 33),
        action="bank.contract.update",
        actor="bank-config",
        actor_kind="bank",
        target="10000001",
    )
    dbsession.commit()
    master.set_cookie(LANGUAGE_COOKIE, "en")
    page = master.get(f"/oplog?{IN_2020}")
    assert rows_of(page) == [
        ["1", "2020/01/01 09:33:00", "Rokin", "Change contract (Rokin)", "10000001", "Succeeded"],
        [
            "2",
            "2020/01/01 09:32:00",
            "master01",
            "Initial password authentication (locked)",
            "",
            "Succeeded",
        ],
        ["3", "2020/01/01 09:31:00", "master01", "Log in (password authentication)", "", "Failed"],
        ["4", "2020/01/01 09:30:00", "master01", "Log in", "master01", "Succeeded"],
    ]
    users = [option.get_text() for option in page.html.find(id="user").find_all("option")]
    assert users[:2] == ["All", "master01 (労金　太郎)"] and users[-2:] == ["Rokin", "System"]
    actions = [option.get_text() for option in page.html.find(id="action").find_all("option")]
    assert actions[0] == "All" and actions == [actions[0], *sorted(actions[1:])]
    assert page.html.find("label", attrs={"for": "date_from"}).get_text() == "Period (start date)"
    assert "Shift_JIS (for Excel)" in page.text

    refused = master.get("/oplog", {"date_from": "2020-13-45", "date_to": "yesterday"})
    assert refused.html.find(id="date_from-error").get_text() == "There is no such date."
    assert refused.html.find(id="date_to-error").get_text() == (
        'Please enter the date as "2026-04-01".'
    )

    response = master.get(f"/oplog/csv?{IN_2020}&encoding=utf-8")
    today = clock().astimezone(JST).strftime("%Y%m%d")
    assert (
        f"filename*=UTF-8''{quote(f'Operation log_{today}.csv', safe='')}"
        in (response.headers["Content-Disposition"])
    )
    table = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"), newline="")))
    assert table[0] == [
        "Date and time",
        "User ID",
        "Operation",
        "Target",
        "Result",
        "Operation code",
        "Client IP address",
    ]
    assert table[1][:6] == [
        "2020/01/01 09:33:00",
        "Rokin",
        "Change contract (Rokin)",
        "10000001",
        "Succeeded",
        "bank.contract.update",
    ]


def test_every_action_the_code_records_has_a_japanese_label():
    """The names passed to audit.record in core and auth_backends (dynamic ones by pattern)."""
    import re

    root = Path(__file__).resolve().parents[2]
    names = set()
    for folder in ("core", "auth_backends"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(
                r"(?:audit\.record\(\s*[\w.]+,|_audit\((?:\s*\w+,)?|_system_event\()\s*\"([a-z_.]+)\"",
                text,
            ):
                names.add(match.group(1))
    assert {"login.success", "cert.issue", "user.lock", "user.create", "user.delete"} <= names
    unlabelled = sorted(name for name in names if action_label(name) == name)
    assert unlabelled == []
    for flow in ("login", "issue"):
        assert action_label(f"{flow}.password").endswith("（パスワード認証）")
    for outcome, suffix in [("ok", ""), ("wrong", "（誤り）"), ("blocked_now", "（閉塞）")]:
        assert action_label(f"register.initial_password.{outcome}") == "初期パスワード認証" + suffix


# --- Filters ---------------------------------------------------------------------------------------


@pytest.fixture
def history(master, dbsession):
    """Events of two users of the contract around February 2020 (JST), the system's and the bank's."""
    add_general_user(dbsession)
    add_event(dbsession, jst(2020, 1, 5, 10), action="password.change", actor="master01")
    add_event(dbsession, jst(2020, 1, 31, 23, 59, 59), action="login.success", actor="general01")
    add_event(dbsession, jst(2020, 2, 1, 0, 0, 0), action="login.success", actor="general01")
    add_event(
        dbsession,
        jst(2020, 2, 2, 8),
        action="user.lock",
        actor="system",
        actor_kind="system",
        target="general01",
    )
    add_event(
        dbsession,
        jst(2020, 2, 3, 8),
        action="bank.module.enable",
        actor="bank-config",
        actor_kind="bank",
        target="10000001",
    )
    dbsession.commit()
    return master


def test_filter_by_user_matches_who_did_it_or_whom_it_concerned(history):
    page = history.get(f"/oplog?{IN_2020}&user=general01")
    assert [(r[1], r[2], r[3], r[4]) for r in rows_of(page)] == [
        ("2020/02/02 08:00:00", "システム", "ロック", "general01"),
        ("2020/02/01 00:00:00", "general01", "ログイン", ""),
        ("2020/01/31 23:59:59", "general01", "ログイン", ""),
    ]
    page = history.get(f"/oplog?{IN_2020}&user=_bank")
    assert [r[3] for r in rows_of(page)] == ["サービス利用開始（ろうきん）"]
    options = [o.get_text(strip=True) for o in page.html.select("#user option")]
    assert options[:3] == ["すべて", "master01（労金　太郎）", "general01（労金　次郎）"]
    assert page.html.select_one("#user option[selected]")["value"] == "_bank"


def test_filter_by_action(history):
    page = history.get(f"/oplog?{IN_2020}&action=login.success")
    assert [r[1] for r in rows_of(page)] == ["2020/02/01 00:00:00", "2020/01/31 23:59:59"]
    labels = {o["value"]: o.get_text(strip=True) for o in page.html.select("#action option")}
    assert labels["password.change"] == "パスワード変更" and labels[""] == "すべて"


def test_filter_by_period_in_japan_time_both_ends_included(history):
    page = history.get("/oplog?date_from=2020-01-05&date_to=2020-01-31")
    assert [r[1] for r in rows_of(page)] == ["2020/01/31 23:59:59", "2020/01/05 10:00:00"]
    page = history.get("/oplog", {"date_from": "2020/2/1", "date_to": "２０２０－０２－０２"})
    assert [r[1] for r in rows_of(page)] == ["2020/02/02 08:00:00", "2020/02/01 00:00:00"]
    assert "抽出件数：2件" in page.text


def test_a_malformed_date_is_shown_next_to_its_field_with_the_input_kept(master):
    """ACC-8: the screen again, the field's message, input kept."""
    page = master.get("/oplog", {"date_from": "2020-13-45", "date_to": "yesterday"})
    assert page.status_int == 200
    start = page.html.find(id="date_from")
    assert start["value"] == "2020-13-45" and start["aria-invalid"] == "true"
    assert page.html.find(id="date_from-error").get_text() == "存在しない日付です。"
    assert page.html.find(id="date_to")["value"] == "yesterday"
    assert "「2026-04-01」の形式" in page.html.find(id="date_to-error").get_text()
    assert rows_of(page) == [] and page.html.find(id="oplog-csv") is None
    page = master.get("/oplog", {"date_from": "2020-02-02", "date_to": "2020-02-01"})
    assert page.html.find(id="date_to-error").get_text() == (
        "終了日には開始日以降の日付を入力してください。"
    )
    # The CSV of a bad filter sends the browser to the screen with the messages.
    response = master.get("/oplog/csv", {"date_from": "2020-13-45", "encoding": "utf-8"})
    assert response.status_int == 302 and "date_from=2020-13-45" in response.location


# --- Paging ----------------------------------------------------------------------------------------


def test_paged_fifty_a_page_newest_first(master, dbsession):
    start = jst(2020, 3, 1, 9)
    for i in range(120):
        add_event(dbsession, start + dt.timedelta(minutes=i), target=f"T{i:03d}")
    dbsession.commit()
    query = "date_from=2020-03-01&date_to=2020-03-01"
    page = master.get(f"/oplog?{query}")
    rows = rows_of(page)
    assert len(rows) == PAGE_SIZE == 50
    assert rows[0][4] == "T119" and rows[-1][4] == "T070"  # newest first
    assert "抽出件数：120件（1～50件目）" in page.text
    pager = page.html.find(id="oplog-pager")
    assert [a.get_text() for a in pager.find_all("a")] == ["2", "3", "次へ"]
    page = page.click(href=r"page=3")
    rows = rows_of(page)
    assert len(rows) == 20 and rows[0][0] == "101" and rows[-1][4] == "T000"
    assert "抽出件数：120件（101～120件目）" in page.text
    assert page.html.select_one("#oplog-pager [aria-current=page]").get_text() == "3"
    # The filter stays in the page links; out-of-range or bad page numbers are clamped.
    assert "date_from=2020-03-01" in page.html.find(id="oplog-pager").find("a")["href"]
    assert rows_of(master.get(f"/oplog?{query}&page=99"))[0][0] == "101"
    assert rows_of(master.get(f"/oplog?{query}&page=x"))[0][0] == "1"


# --- CSV -------------------------------------------------------------------------------------------


def test_csv_in_cp932_by_default_with_a_japanese_file_name(history, dbsession, clock):
    """SPEC 6: cp932 by default; RFC 6266 filename* 操作ログ_YYYYMMDD.csv; the export is audited."""
    page = history.get(f"/oplog?{IN_2020}")
    form = page.forms["oplog-csv"]
    assert form["encoding"].value == "cp932"
    response = form.submit()
    assert response.headers["Content-Type"] == "text/csv; charset=Windows-31J"
    today = clock().astimezone(JST).strftime("%Y%m%d")
    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        f'attachment; filename="oplog_{today}.csv"; '
        f"filename*=UTF-8''{quote(f'操作ログ_{today}.csv', safe='')}"
    )
    assert not response.body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.body.decode("cp932"), newline="")))
    assert table[0] == [
        "日時",
        "ユーザーID",
        "操作",
        "対象",
        "結果",
        "操作コード",
        "接続元IPアドレス",
    ]
    assert [row[:5] for row in table[1:]] == [row[1:] for row in rows_of(page)]
    assert table[1][:6] == [
        "2020/02/03 08:00:00",
        "ろうきん",
        "サービス利用開始（ろうきん）",
        "10000001",
        "成功",
        "bank.module.enable",
    ]
    assert response.body.count(b"\r\n") == len(table)
    assert response.body.startswith('"日時"'.encode("cp932"))  # every cell quoted
    dbsession.rollback()
    export = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "oplog.export")).one()
    assert export.actor == "master01" and export.contract_no == "10000001"
    assert export.details["rows"] == 5 and export.details["encoding"] == "cp932"


def test_csv_in_utf8_with_bom_for_the_filtered_rows(history):
    response = history.get(f"/oplog/csv?{IN_2020}&user=general01&encoding=utf-8")
    assert response.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert response.body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"), newline="")))
    assert [row[0] for row in table[1:]] == [
        "2020/02/02 08:00:00",
        "2020/02/01 00:00:00",
        "2020/01/31 23:59:59",
    ]
    history.get("/oplog/csv?encoding=latin-1", status=400)


def test_csv_guards_against_formula_injection(master, dbsession):
    """A value an attacker could type (e.g. at DC583101) must not run as an Excel formula."""
    add_event(
        dbsession,
        jst(2020, 5, 1, 9),
        action="register.initial_password.wrong",
        actor="=cmd|' /C calc'!A0",
        actor_kind="user",
        target='=HYPERLINK("http://evil.example/","x")',
        result="failure",
    )
    dbsession.commit()
    response = master.get("/oplog/csv?date_from=2020-05-01&date_to=2020-05-01")
    row = list(csv.reader(io.StringIO(response.body.decode("cp932"), newline="")))[1]
    assert row[1] == "'=cmd|' /C calc'!A0"
    assert row[3] == '\'=HYPERLINK("http://evil.example/","x")'
    assert row[2] == "初期パスワード認証（誤り）" and row[4] == "失敗"


def test_a_character_outside_cp932_is_reported_never_replaced(master, dbsession):
    """#13 item 6: the cp932 export would have to change 𠮷; the user is told the row, the column
    and the character, and gets it unchanged in UTF-8. No export is recorded for the refused one."""
    add_event(
        dbsession,
        jst(2020, 5, 2, 9),
        action="register.initial_password.wrong",
        actor="general01",
        actor_kind="user",
        target="𠮷野支店",
        result="failure",
    )
    dbsession.commit()
    query = "date_from=2020-05-02&date_to=2020-05-02"
    refused = master.get(f"/oplog/csv?{query}", status=422)
    assert (
        "1件目の「対象」に、Shift_JIS（cp932）で出力できない文字「𠮷」（U+20BB7）" in refused.text
    )
    assert refused.headers["Content-Security-Policy"]
    utf8 = master.get(f"/oplog/csv?{query}&encoding=utf-8")
    assert list(csv.reader(io.StringIO(utf8.body.decode("utf-8-sig"))))[1][3] == "𠮷野支店"
    dbsession.rollback()
    exports = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "oplog.export"))
    assert [e.details["encoding"] for e in exports] == ["utf-8"]


# --- Who may see it --------------------------------------------------------------------------------


def test_a_general_user_is_refused_and_has_no_menu(general):
    """ACC-6: the operation log is the master's; a general user gets 403 on the direct URLs."""
    assert "/oplog" not in general.get("/info").text
    page = general.get("/oplog", status=403)
    assert "この機能をご利用いただく権限がありません。" in page.text
    general.get("/oplog/csv", status=403)
    general.get("/oplog/csv?encoding=utf-8", status=403)


def test_the_master_finds_it_in_the_system_menu(master):
    """SPEC section 2: システム管理機能 → 操作ログ照会 for the master."""
    page = master.get("/info")
    link = page.html.find("a", string="操作ログ照会")
    assert link is not None and link["href"].endswith("/oplog")


def test_anonymous_requests_go_to_the_top_page(testapp):
    for url in ("/oplog", "/oplog/csv"):
        response = testapp.get(url)
        assert response.status_int == 302 and response.location.endswith("/")
