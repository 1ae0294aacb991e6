"""The information screens' data (#13; BANK-6, SPEC 6.4, 6.5): the bank's message and schedule files,
loaded all or nothing, and the queries of what a contract and deposit group see now."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.bank import loaders, messages, schedules
from core.db import get_session_factory
from core.db.models import AuditEvent, Contract, DeductionSchedule, DepositGroup, Message
from core.hookspecs import RowError
from core.settings import ConfigurationError
from core.timefmt import JST

MESSAGE_HEADER = (
    "お知らせ番号,掲載日,件名,メッセージ,対象,契約番号,入金グループ,掲載開始,掲載終了\n"
)
SCHEDULE_HEADER = (
    "契約番号,入金グループ,区分,控除年月,締切日,依頼データ受信日,結果データ受信日,支給日\n"
)
DATE_MESSAGE = "日付は YYYYMMDD（半角数字8桁）の正しい日付で指定してください。"
#: Lunch time in Japan on 2026-11-10.
NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=JST)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("cp932"))  # as the bank's systems write it
    return path


def _load(app, path: Path, kind: str) -> loaders.LoadReport:
    loader = loaders.core_loaders()[kind]
    return loaders.load_file(get_session_factory(app.registry), loader, path, now=NOW)


def _contract(dbsession, number: str) -> Contract:
    return dbsession.scalars(select(Contract).where(Contract.contract_no == number)).one()


def _group(dbsession, contract_no: str, group_no: str) -> DepositGroup:
    return next(
        g for g in _contract(dbsession, contract_no).deposit_groups if g.group_no == group_no
    )


def _rows(dbsession, model) -> list[tuple]:
    dbsession.rollback()
    return [
        tuple(getattr(row, c.key) for c in model.__table__.columns)
        for row in dbsession.scalars(select(model).order_by(model.id))
    ]


MESSAGES = (
    MESSAGE_HEADER
    + "M001,20261101,全員へ,すべての契約へのお知らせです。,全体,,,,\n"
    + 'M002,20261105,会員の皆様へ,"会員向けです。\n二行目です。",会員,,,,\n'
    + "M003,20261105,事業主の皆様へ,事業主向けです。,事業主,,,,\n"
    + "M004,20261102,デモ労働組合連合会様へ,この契約だけです。,契約,10000001,,,\n"
    + "M005,20261103,東支部様へ,東支部だけです。,入金グループ,10000001,00000002,,\n"
    + "M006,20261020,終了したお知らせ,もう表示されません。,全体,,,202610200000,202611011700\n"
    + "M007,20261120,予告,まだ表示されません。,全体,,,202611200900,\n"
)


def test_messages_are_visible_by_audience_and_dates_newest_first(app, bank, dbsession, tmp_path):
    """BANK-6 (#13): everyone, a contract kind, a contract, a deposit group; published and not
    withdrawn at the time asked; newest 掲載日 first, the bank's numbering within a day."""
    report = _load(app, _write(tmp_path, "messages.csv", MESSAGES), "messages")
    assert (report.kind, report.rows) == ("messages", 7)
    dbsession.rollback()
    member = _contract(dbsession, "10000001")
    head_office, east = (_group(dbsession, "10000001", n) for n in ("00000001", "00000002"))
    employer = _contract(dbsession, "20000001")

    def seen(contract, group, now=NOW):
        return [m.message_no for m in messages.visible_messages(dbsession, contract, group, now)]

    assert seen(member, head_office) == ["M002", "M004", "M001"]
    assert seen(member, east) == ["M002", "M005", "M004", "M001"]
    assert seen(employer, employer.deposit_groups[0]) == ["M003", "M001"]
    assert seen(employer, None) == ["M003", "M001"]
    # Before M006 was withdrawn (17:00 on 1 Nov, Japan time) and after M007 is published.
    assert "M006" in seen(member, head_office, dt.datetime(2026, 11, 1, 16, 59, tzinfo=JST))
    assert "M006" not in seen(member, head_office, dt.datetime(2026, 11, 1, 17, 0, tzinfo=JST))
    assert seen(member, head_office, dt.datetime(2026, 11, 20, 9, 0, tzinfo=JST))[0] == "M007"
    body = dbsession.scalars(select(Message.body).where(Message.message_no == "M002")).one()
    assert body == "会員向けです。\n二行目です。"


def test_loading_the_same_message_file_twice_changes_nothing(app, bank, dbsession, tmp_path):
    """#13: loading is idempotent (お知らせ番号 is the bank's key); a changed file updates in place."""
    path = _write(tmp_path, "messages.csv", MESSAGES)
    _load(app, path, "messages")
    first = _rows(dbsession, Message)
    _load(app, path, "messages")
    assert _rows(dbsession, Message) == first

    withdrawn = MESSAGES.replace(
        "M001,20261101,全員へ,すべての契約へのお知らせです。,全体,,,,",
        "M001,20261101,全員へ,すべての契約へのお知らせです。,全体,,,,202611101100",
    )
    _load(app, _write(tmp_path, "withdraw.csv", withdrawn), "messages")
    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(Message)) == 7
    member = _contract(dbsession, "10000001")
    visible = messages.visible_messages(dbsession, member, None, NOW)
    assert "M001" not in [m.message_no for m in visible]


def test_a_bad_message_row_refuses_the_whole_file(app, bank, dbsession, tmp_path):
    """#13: all or nothing; each refused cell names its line, column and value."""
    text = (
        MESSAGE_HEADER
        + "M101,20261101,正しい行,このファイルの他の行は正しくても保存されません。,全体,,,,\n"
        + "M102,20261131,日付誤り,存在しない日付です。,全体,,,,\n"
        + "M103,20261101,他の契約,契約番号がありません。,契約,99999999,,,\n"
        + "M101,20261101,重複,番号が重複しています。,会員,,,,\n"
        + "M104,20261101,項目不足\n"
        + "M105,20261101,グループ無し,入金グループがありません。,入金グループ,10000001,,,\n"
        + "M106,20261101,余計な契約,全体に契約番号は不要です。,全体,10000001,,,\n"
        + "M107,20261101,終了が先,掲載終了が掲載開始より前です。,全体,,,202611020000,202611010000\n"
    )
    with pytest.raises(loaders.LoadRefused) as refused:
        _load(app, _write(tmp_path, "bad.csv", text), "messages")

    assert refused.value.errors == [
        RowError(3, DATE_MESSAGE, "掲載日", "20261131"),
        RowError(4, "この契約番号の契約はありません。", "契約番号", "99999999"),
        RowError(5, "同じお知らせ番号がファイル内にあります。", "お知らせ番号", "M101"),
        RowError(6, "項目数が9ではありません（3項目）。"),
        RowError(7, "対象が入金グループのときは指定してください。", "入金グループ", ""),
        RowError(
            8, "対象が契約・入金グループでないときは空にしてください。", "契約番号", "10000001"
        ),
        RowError(9, "掲載終了は掲載開始より後にしてください。", "掲載終了", "202611010000"),
    ]
    assert loaders.describe(refused.value.errors[0]) == f"3: [掲載日] 「20261131」 {DATE_MESSAGE}"
    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(Message)) == 0
    loads = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("load.%"))
    assert dbsession.scalar(loads) == 0


def test_a_file_of_another_kind_is_refused_at_its_header(app, bank, dbsession, tmp_path):
    with pytest.raises(loaders.LoadRefused) as refused:
        _load(app, _write(tmp_path, "schedules.csv", SCHEDULE_HEADER), "messages")
    assert [(e.line, e.message[:10]) for e in refused.value.errors] == [(1, "1行目は見出し行「お")]


SCHEDULES = (
    SCHEDULE_HEADER
    + "10000001,00000001,月例,202609,20260909,20260921,20260926,20260928\n"
    + "10000001,00000001,月例,202610,20261009,20261021,20261026,20261028\n"
    + "10000001,00000001,月例,202611,20261110,,,20261120\n"
    + "10000001,00000001,月例,202612,20261209,,,20261220\n"
    + "10000001,00000001,夏季一時金,202606,20260609,20260620,20260625,20260629\n"
    + "10000001,00000001,年末一時金,202612,20261207,,,20261220\n"
    + "10000001,00000002,月例,202611,20261109,,,20261120\n"
)


def _table(dbsession, group, now):
    return [
        (cycle.label, [(r.schedule.deduction_month.strftime("%Y%m"), r.state) for r in rows])
        for cycle, rows in schedules.current_rows(dbsession, group, now)
    ]


def test_schedules_show_the_last_closed_and_the_first_open_month(app, bank, dbsession, tmp_path):
    """SPEC 6.5 (#13): per cycle, the latest 締切中 month and the first 入力中 one; a month is 入力中
    until the end of its 締切日 in Japan time."""
    report = _load(app, _write(tmp_path, "schedules.csv", SCHEDULES), "schedules")
    assert report.rows == 7
    dbsession.rollback()
    head_office = _group(dbsession, "10000001", "00000001")

    assert _table(dbsession, head_office, NOW) == [
        ("月例", [("202610", "締切中"), ("202611", "入力中")]),
        ("夏季一時金", [("202606", "締切中")]),
        ("年末一時金", [("202612", "入力中")]),
    ]
    last_minute = dt.datetime(2026, 11, 10, 23, 59, tzinfo=JST)  # 14:59 UTC on the 締切日
    next_day = dt.datetime(2026, 11, 11, 0, 0, tzinfo=JST)  # still 10 Nov in UTC
    assert _table(dbsession, head_office, last_minute)[0][1] == [
        ("202610", "締切中"),
        ("202611", "入力中"),
    ]
    assert _table(dbsession, head_office, next_day)[0][1] == [
        ("202611", "締切中"),
        ("202612", "入力中"),
    ]
    east = _group(dbsession, "10000001", "00000002")
    assert _table(dbsession, east, NOW) == [
        ("月例", [("202611", "締切中")]),
        ("夏季一時金", []),
        ("年末一時金", []),
    ]


def test_loading_the_same_schedule_file_twice_changes_nothing(app, bank, dbsession, tmp_path):
    """#13: a month is keyed by deposit group, 区分 and 控除年月; loading again changes nothing, a
    new file updates the months it names and leaves the others."""
    path = _write(tmp_path, "schedules.csv", SCHEDULES)
    _load(app, path, "schedules")
    first = _rows(dbsession, DeductionSchedule)
    _load(app, path, "schedules")
    assert _rows(dbsession, DeductionSchedule) == first

    received = SCHEDULE_HEADER + "10000001,00000001,月例,202611,20261110,20261121,,20261120\n"
    _load(app, _write(tmp_path, "received.csv", received), "schedules")
    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(DeductionSchedule)) == 7
    november = dbsession.scalars(
        select(DeductionSchedule).where(
            DeductionSchedule.deposit_group_id == _group(dbsession, "10000001", "00000001").id,
            DeductionSchedule.cycle == "monthly",
            DeductionSchedule.deduction_month == dt.date(2026, 11, 1),
        )
    ).one()
    assert november.request_received_on == dt.date(2026, 11, 21)


def test_a_bad_schedule_row_refuses_the_whole_file(app, bank, dbsession, tmp_path):
    """#13: all or nothing; each refused cell names its line, column and value."""
    text = (
        SCHEDULE_HEADER
        + "10000001,00000001,月例,202611,20261110,,,20261120\n"
        + "10000001,00000009,月例,202611,20261110,,,20261120\n"
        + "10000001,00000001,冬季,202613,2026111,,,20261120\n"
    )
    with pytest.raises(loaders.LoadRefused) as refused:
        _load(app, _write(tmp_path, "bad.csv", text), "schedules")

    assert refused.value.errors == [
        RowError(3, "この契約にこの入金グループはありません。", "入金グループ", "00000009"),
        RowError(4, "月例、夏季一時金、年末一時金 のいずれかで指定してください。", "区分", "冬季"),
        RowError(
            4, "年月は YYYYMM（半角数字6桁）の正しい年月で指定してください。", "控除年月", "202613"
        ),
        RowError(4, DATE_MESSAGE, "締切日", "2026111"),
    ]
    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(DeductionSchedule)) == 0


def test_a_module_may_not_take_the_name_of_the_cores_loaders():
    class Clash:
        kind = "messages"
        title = "別のお知らせ"

    with pytest.raises(ConfigurationError, match=r"loader core 'messages': the module name 'core'"):
        loaders.all_loaders({("core", "messages"): Clash()})  # type: ignore[dict-item]
    mine = loaders.all_loaders({("mine", "messages"): Clash()})  # type: ignore[dict-item]
    assert isinstance(mine["core", "messages"], loaders.MessagesLoader)
    assert isinstance(mine["mine", "messages"], Clash)


def test_cjs_load_prints_each_refused_cell_and_loads_a_good_file(tmp_path, db_url, capsys):
    """#13 item 5: the operator sees FILE:LINE: [column] 「value」 message for each refused cell."""
    from core import cli

    ini = tmp_path / "cjs.ini"
    ini.write_text(f"[app:main]\nuse = egg:cjs\nsqlalchemy.url = {db_url}\n")
    bad = _write(tmp_path, "bad.csv", MESSAGE_HEADER + "M1,20261101,件名,本文,全員,,,,\n")
    assert cli.main(["-c", str(ini), "bank", "load", "core", "messages", str(bad)]) == 1
    err = capsys.readouterr().err
    assert (
        f"{bad}:2: [対象] 「全員」 全体、会員、事業主、契約、入金グループ のいずれかで指定してください。"
        in err
    )

    good = _write(tmp_path, "good.csv", MESSAGE_HEADER + "M1,20261101,件名,本文,全体,,,,\n")
    assert cli.main(["-c", str(ini), "bank", "load", "core", "messages", str(good)]) == 0
    assert capsys.readouterr().out == "messages: 1 row(s) loaded\n"
