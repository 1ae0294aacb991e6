"""The demo's information-screen data (#13, BANK-6): お知らせ and スケジュール for the demo contracts,
dated around the day the demo starts and loaded through the bank's loaders (``cjs bank load``), as the
bank's files would be.

Schedules: for each deposit group with 労金控除 or 賃控元帳, the months of 月例 from three months ago
to two ahead (締切日 the 10th), and 夏季一時金 (June) and 年末一時金 (December) of last year to next
year, so each cycle has past, 入力中 and future months; the days the data came in are set once past.
Messages: one for everyone, one per contract kind, one per contract, one for a deposit group, one
withdrawn yesterday. Running it again on the same day changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from core.bank import loaders
from core.bank import messages as bank_messages
from core.bank import schedules_file as bank_schedules
from core.db import make_engine, make_session_factory
from core.timefmt import to_jst

DEDUCTION_MODULES = frozenset({"rokin_deduction", "wage_ledger"})


def _ymd(day: dt.date | None) -> str:
    return day.strftime("%Y%m%d") if day is not None else ""


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _month_row(
    contract_no: str, group_no: str, cycle: str, month: dt.date, deadline_day: int, today: dt.date
) -> list[str]:
    deadline = month.replace(day=deadline_day)
    received = deadline + dt.timedelta(days=11)
    result = deadline + dt.timedelta(days=16)
    payment = deadline + dt.timedelta(days=18)
    return [
        contract_no,
        group_no,
        cycle,
        f"{month:%Y%m}",
        _ymd(deadline),
        _ymd(received if received <= today else None),
        _ymd(result if result <= today else None),
        _ymd(payment),
    ]


def schedule_file(contracts: Sequence[Mapping[str, Any]], today: dt.date) -> str:
    """The schedules of the demo contracts' deduction groups around ``today``, as the bank's file."""
    lines: list[list[str]] = []
    for contract in contracts:
        for index, group in enumerate(contract.get("deposit_groups", [])):
            if not DEDUCTION_MODULES & set(group.get("modules", {})):
                continue
            number = (str(contract["contract_no"]), str(group["group_no"]))
            this_month = today.replace(day=1)
            for offset in range(-3, 3):
                month = _add_months(this_month, offset)
                lines.append(_month_row(*number, "月例", month, 10 + index, today))
            for year in (today.year - 1, today.year, today.year + 1):
                lines.append(_month_row(*number, "夏季一時金", dt.date(year, 6, 1), 9, today))
                lines.append(_month_row(*number, "年末一時金", dt.date(year, 12, 1), 7, today))
    return _csv([c.name for c in bank_schedules.COLUMNS], lines)


def message_file(contracts: Sequence[Mapping[str, Any]], now: dt.datetime) -> str:
    """The demo messages, dated around ``now``, as the bank's file."""
    today = to_jst(now).date()
    member = next(c for c in contracts if c.get("kind") == "member")
    employer = next(c for c in contracts if c.get("kind") == "employer")
    member_no, employer_no = str(member["contract_no"]), str(employer["contract_no"])
    branch = str(member["deposit_groups"][-1]["group_no"])
    yesterday = f"{today - dt.timedelta(days=1):%Y%m%d}0000"  # the same all day: no change

    def row(number: str, age: int, subject: str, body: str, audience: str, *rest: str) -> list[str]:
        cells = [number, _ymd(today - dt.timedelta(days=age)), subject, body, audience]
        return cells + list(rest) + [""] * (4 - len(rest))

    rows = [
        row(
            "DEMO01",
            1,
            "システムメンテナンスのお知らせ",
            "毎月第2土曜日の夜間はシステムメンテナンスのためご利用いただけません。",
            "全体",
        ),
        row(
            "DEMO02",
            2,
            "控除依頼データの締切について",
            "月例の締切日の翌日以降は、翌月分として受け付けます。\n締切日をご確認ください。",
            "会員",
        ),
        row(
            "DEMO03",
            2,
            "財形預入依頼書の送付について",
            "預入依頼書の作成基準日は財形貯蓄事務の各画面でご確認ください。",
            "事業主",
        ),
        row(
            "DEMO04",
            3,
            "デモ労働組合連合会様へ",
            "年末一時金の控除依頼データを受信しました。",
            "契約",
            member_no,
        ),
        row(
            "DEMO05",
            3,
            "東支部の皆様へ",
            "東支部の控除スケジュールは本部と1日異なります。",
            "入金グループ",
            member_no,
            branch,
        ),
        row(
            "DEMO06",
            4,
            "株式会社デモ商事様へ",
            "奨励金のご契約内容を更新しました。",
            "契約",
            employer_no,
        ),
        row(
            "DEMO07",
            30,
            "（掲載終了）臨時休業のお知らせ",
            "このお知らせは掲載を終了しました。",
            "全体",
            "",
            "",
            "",
            yesterday,
        ),
    ]
    return _csv([c.name for c in bank_messages.COLUMNS], rows)


def _files(contracts: Sequence[Mapping[str, Any]], now: dt.datetime) -> Iterator[tuple[str, str]]:
    yield "messages", message_file(contracts, now)
    yield "schedules", schedule_file(contracts, to_jst(now).date())


def seed_demo_information(
    settings: Mapping[str, Any], contracts: Sequence[Mapping[str, Any]], now: dt.datetime
) -> list[str]:
    """``cjs demo``: load the demo messages and schedules (cp932 files, the bank's loaders)."""
    engine = make_engine(settings["sqlalchemy.url"])
    kinds = loaders.core_loaders()
    lines = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for kind, text in _files(contracts, now):
                path = Path(folder) / f"{kind}.csv"
                path.write_bytes(text.encode("cp932"))
                report = loaders.load_file(make_session_factory(engine), kinds[kind], path, now=now)
                lines.append(f"{kind}: {report.rows} row(s) loaded")
    finally:
        engine.dispose()
    return lines
