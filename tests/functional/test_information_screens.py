"""The information screens (#13; SPEC 6.4, 6.5, BANK-6, ACC-7): DC671101 for 会員 with 【スケジュール】,
お知らせ and 【前回ログイン日時】, each module's part shown only where the module is enabled for the
selected deposit group and not 非表示 for the user; the 財形 variant for a 事業主 contract."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from conftest import Customer
from sqlalchemy import select

from core.auth.passwords import hash_password
from core.bank import loaders
from core.db import get_session_factory
from core.db.models import Contract, ModuleEnablement, User, UserRestriction
from core.timefmt import kanji_day, kanji_month, to_jst
from core.web.language import LANGUAGE_COOKIE

PASSWORD = "Passw0rd!"
MESSAGE_HEADER = (
    "お知らせ番号,掲載日,件名,メッセージ,対象,契約番号,入金グループ,掲載開始,掲載終了\n"
)
SCHEDULE_HEADER = (
    "契約番号,入金グループ,区分,控除年月,締切日,依頼データ受信日,結果データ受信日,支給日\n"
)


def _ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _month(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def information(app, bank, clock, tmp_path):
    """Messages and schedules of the demo contracts, dated around the app's today (Japan time)."""
    now = to_jst(clock.now)
    today = now.date()
    stamp = (now - dt.timedelta(hours=1)).strftime("%Y%m%d%H%M")
    later = (now + dt.timedelta(days=1)).strftime("%Y%m%d%H%M")
    messages = MESSAGE_HEADER + "".join(
        f"{number},{_ymd(today - dt.timedelta(days=age))},{subject},{subject}の本文です。,{rest}\n"
        for number, age, subject, rest in [
            ("A01", 3, "全体へのお知らせ", "全体,,,,"),
            ("A02", 1, "会員へのお知らせ", "会員,,,,"),
            ("A03", 2, "事業主へのお知らせ", "事業主,,,,"),
            ("A04", 2, "本部へのお知らせ", "入金グループ,10000001,00000001,,"),
            ("A05", 2, "東支部へのお知らせ", "入金グループ,10000001,00000002,,"),
            ("A06", 0, "デモ商事様へのお知らせ", "契約,20000001,,,"),
            ("A07", 5, "掲載終了したお知らせ", f"全体,,,,{stamp}"),
            ("A08", 0, "明日からのお知らせ", f"会員,,,{later},"),
        ]
    )
    closed, open_, future = (_month(today, n) for n in (-1, 0, 1))
    schedules = SCHEDULE_HEADER + "".join(
        f"10000001,{group},{cycle},{month:%Y%m},{_ymd(deadline)},{received},{_ymd(deadline + dt.timedelta(days=15))}\n"
        for group, cycle, month, deadline, received in [
            ("00000001", "月例", closed, today - dt.timedelta(days=20), "20991231,20991231"),
            ("00000001", "月例", open_, today, ","),
            ("00000001", "月例", future, today + dt.timedelta(days=30), ","),
            ("00000001", "年末一時金", open_, today + dt.timedelta(days=3), ","),
            ("00000002", "月例", open_, today + dt.timedelta(days=1), ","),
        ]
    )
    for kind, text in (("messages", messages), ("schedules", schedules)):
        path = Path(tmp_path / f"{kind}.csv")
        path.write_bytes(text.encode("cp932"))
        loaders.load_file(
            get_session_factory(app.registry),
            loaders.core_loaders()[kind],
            path,
            now=clock.now,
        )
    return {"today": today, "closed": closed, "open": open_, "future": future}


def _login(app, dbsession, user_id, email, group_index=None):
    customer = Customer.of(app, dbsession)
    data, _ = customer.issue(user_id, PASSWORD, email)
    customer.app.reset()
    customer.use_certificate(data, PASSWORD)
    page = customer.login(PASSWORD)
    if group_index is not None:
        page = page.forms["groups-form"].submit("group_id", index=group_index).maybe_follow()
    return customer.app, page


@pytest.fixture
def member_master(app, dbsession, information):
    Customer.of(app, dbsession).register_master()
    return lambda group_index=0: _login(
        app, dbsession, "master01", "taro@example.com", group_index
    )[1]


def _messages(page) -> list[str]:
    return re.findall(r'<tr id="message-(\w+)">', page.text)


def _schedule(page, cycle: str) -> list[list[str]]:
    body = page.html.find("tbody", id=f"schedule-{cycle}")
    return [
        [td.text for td in tr.find_all("td")] for tr in body.find_all("tr", class_="schedule-row")
    ]


def test_a_member_sees_the_schedule_the_messages_and_the_note(member_master, information):
    """SPEC 6.5, BANK-6 (#13): per cycle the closed and the open month with their dates; the
    messages for everyone, 会員, the contract and the selected group, newest first; never another
    contract's, another group's, a withdrawn one or one not yet published."""
    page = member_master(0)
    assert "DC671101" in page.text and "【スケジュール】" in page.text
    closed, open_ = information["closed"], information["open"]
    today = information["today"]
    assert _schedule(page, "monthly") == [
        [
            kanji_month(closed),
            "締切中",
            kanji_day(today - dt.timedelta(days=20)),
            "2099年12月31日",
            "2099年12月31日",
            kanji_day(today - dt.timedelta(days=5)),
        ],
        [
            kanji_month(open_),
            "入力中",
            kanji_day(today),
            "",
            "",
            kanji_day(today + dt.timedelta(days=15)),
        ],
    ]
    assert [row[:2] for row in _schedule(page, "winter")] == [[kanji_month(open_), "入力中"]]
    assert _schedule(page, "summer") == []
    assert "スケジュールはありません。" in page.text  # 夏季一時金 has no month yet
    assert page.text.count("【スケジュール】") == 1  # 労金控除 and 賃控元帳 share one panel

    assert _messages(page) == ["A02", "A04", "A01"]
    table = page.html.find("section", id="info-messages")
    assert (
        kanji_day(today - dt.timedelta(days=1)) in table.text
        and "会員へのお知らせの本文です。" in table.text
    )
    assert "※サービスのお申込状況により、表示される項目が異なります。" in page.text


def test_the_schedule_in_english(app, dbsession, information):
    """SPEC 8, #15: the cycles, the input state and the dates of 【スケジュール】 in English."""
    Customer.of(app, dbsession).register_master()
    client, page = _login(app, dbsession, "master01", "taro@example.com", 0)
    client.set_cookie(LANGUAGE_COOKIE, "en")
    page = client.get(page.request.path_qs)
    assert "[Schedule]" in page.text
    closed, open_ = information["closed"], information["open"]
    monthly = page.html.find("tbody", id="schedule-monthly")
    assert monthly.th.text == "Monthly"
    assert page.html.find("tbody", id="schedule-winter").th.text == "Year-end bonus"
    rows = _schedule(page, "monthly")
    assert [row[:2] for row in rows] == [[f"{closed:%Y-%m}", "Closed"], [f"{open_:%Y-%m}", "Open"]]
    assert rows[0][3] == "2099-12-31"


def test_the_messages_and_schedule_follow_the_selected_group(member_master):
    """BANK-6 (#13): a message for a deposit group is shown in that group only."""
    page = member_master(1)
    assert _messages(page) == ["A02", "A05", "A01"]
    assert [row[1] for row in _schedule(page, "monthly")] == ["入力中"]


def test_the_previous_login_is_shown_as_the_manual_shows_it(app, dbsession, member_master):
    """SPEC 6.5 (#13): 【前回ログイン日時】 2012/10/31 14:57 (001 p.20), in Japan time."""
    page = member_master(0)
    assert "【前回ログイン日時】 今回が初めてのログインです。" in page.text
    dbsession.rollback()  # a fresh snapshot: the app wrote since
    user = dbsession.scalars(select(User).where(User.user_id == "master01")).one()
    user.previous_login_at = dt.datetime(2012, 10, 31, 5, 57, 30, tzinfo=dt.UTC)
    dbsession.commit()
    again = page.click(description="トップページ")
    assert "【前回ログイン日時】 2012/10/31 14:57<" in again.text


def _set_modules(dbsession, group_no: str, codes: set[str]) -> None:
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    group = next(g for g in contract.deposit_groups if g.group_no == group_no)
    group.module_enablements = [e for e in group.module_enablements if e.module_code in codes] + [
        ModuleEnablement(module_code=code, options={})
        for code in codes - {e.module_code for e in group.module_enablements}
    ]
    dbsession.commit()


@pytest.mark.parametrize(
    ("enabled", "shown"),
    [
        ({"wage_ledger", "collective_savings"}, True),
        ({"rokin_deduction"}, True),
        ({"collective_savings"}, False),
    ],
)
def test_the_schedule_is_shown_only_where_a_deduction_module_is_enabled(
    dbsession, member_master, enabled, shown
):
    """SPEC 6.5 (#13): the schedule when 労金控除 or 賃控元帳 is enabled for the selected group."""
    dbsession.rollback()
    _set_modules(dbsession, "00000001", enabled)
    page = member_master(0)
    assert ("【スケジュール】" in page.text) == shown
    assert _messages(page) == ["A02", "A04", "A01"]  # messages always


@pytest.mark.parametrize(
    ("hidden", "shown"),
    [
        ({"rokin_deduction"}, True),  # still there through 賃控元帳
        ({"rokin_deduction", "wage_ledger"}, False),
    ],
)
def test_a_module_hidden_from_the_user_hides_its_panel(
    app, dbsession, member_master, hidden, shown
):
    """ACC-7 (#13): 非表示 hides a module's part of the information screen too."""
    dbsession.rollback()
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    user = User(
        contract_id=contract.id,
        user_id="general01",
        role="general",
        name="一般　花子",
        email="general01@example.com",
        password_hash=hash_password(PASSWORD),
    )
    user.restrictions = [UserRestriction(module_code=code, level="hide") for code in hidden]
    dbsession.add(user)
    dbsession.commit()

    _, page = _login(app, dbsession, "general01", "general01@example.com", 0)
    assert ("【スケジュール】" in page.text) == shown
    assert _messages(page) == ["A02", "A04", "A01"]


def test_an_employer_sees_the_zaikei_information_screen(app, dbsession, information):
    """SPEC 6.4 (#13): a 事業主 contract goes straight to its information screen (no 入金グループ
    選択): messages for everyone, 事業主 and the contract; no schedule, no 会員 note."""
    Customer.of(app, dbsession).register_master(
        contract_no="20000001",
        initial_password="Demo#002",
        user_id="employer01",
        email="employer01@example.com",
    )
    _, page = _login(app, dbsession, "employer01", "employer01@example.com")
    assert page.request.path == "/info" and "DC671101" in page.text
    assert _messages(page) == ["A06", "A03", "A01"]
    assert "【前回ログイン日時】 今回が初めてのログインです。" in page.text
    assert "【スケジュール】" not in page.text and "入金グループ選択" not in page.text
    assert "※サービスのお申込状況により" not in page.text


@pytest.mark.parametrize("level", ["show", "hide"])
def test_the_zaikei_screen_shows_the_panels_of_the_employer_modules(
    app_settings, bank, dbsession, information, level
):
    """SPEC 6.4, ACC-7 (#13): the 財形 screen has the slot for its module's part (作成基準日), filled
    by the modules enabled for the contract's deposit group, unless 非表示 for the user."""
    from panel_module import PANEL_TEXT, EmployerPanelModule

    from core.app import close_app, make_app

    app = make_app(app_settings, plugins=[EmployerPanelModule()])
    try:
        dbsession.rollback()
        employer = dbsession.scalars(
            select(Contract).where(Contract.contract_no == "20000001")
        ).one()
        employer.deposit_groups[0].module_enablements.append(
            ModuleEnablement(module_code="panel_module", options={})
        )
        user = User(
            contract_id=employer.id,
            user_id="employer02",
            role="general",
            name="事業主　次郎",
            email="employer02@example.com",
            password_hash=hash_password(PASSWORD),
        )
        if level == "hide":
            user.restrictions = [UserRestriction(module_code="panel_module", level="hide")]
        dbsession.add(user)
        dbsession.commit()

        _, page = _login(app, dbsession, "employer02", "employer02@example.com")
        assert "DC671101" in page.text and _messages(page) == ["A06", "A03", "A01"]
        assert (f"{PANEL_TEXT} 00000001" in page.text) == (level == "show")
    finally:
        close_app(app)


def _header_terms(page) -> list[str]:
    return [dt_.text for dt_ in page.html.find("dl", class_="header-status").find_all("dt")]


def test_the_header_shows_the_deposit_group_of_a_member_only(app, dbsession, member_master):
    """Seed 001 p.20 and p.24 (#13, SPEC 6.4): a 会員's header names the selected 入金グループ; a
    事業主's has none (it has no 入金グループ選択), only the organisation and the user."""
    member_page = member_master()
    assert _header_terms(member_page) == ["団体名", "ユーザー", "入金グループ"]
    Customer.of(app, dbsession).register_master(
        contract_no="20000001",
        initial_password="Demo#002",
        user_id="employer01",
        email="employer01@example.com",
    )
    _, employer_page = _login(app, dbsession, "employer01", "employer01@example.com")
    assert employer_page.request.path == "/info"
    assert _header_terms(employer_page) == ["団体名", "ユーザー"]
