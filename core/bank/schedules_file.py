"""The bank's schedules file (``cjs bank load core schedules FILE``, docs/data-formats.md): its
columns and the checks of its rows, read by the bank's staff (Japanese only, like the file itself).
The schedule it stores and shows is :mod:`core.bank.schedules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from core.bank.organisations import Organisations
from core.bank.schedules import CYCLE_LABELS, Cycle, ScheduleData, save_schedule
from core.dataload import Column, choice, digits, optional, read_rows, yyyymm, yyyymmdd
from core.hookspecs import Parsed, RowError

#: The columns of the file, in order (docs/data-formats.md).
COLUMNS = (
    Column("契約番号", digits(8)),
    Column("入金グループ", digits(8)),
    Column("区分", choice({label: cycle for cycle, label in CYCLE_LABELS.items()})),
    Column("控除年月", yyyymm),
    Column("締切日", yyyymmdd),
    Column("依頼データ受信日", optional(yyyymmdd)),
    Column("結果データ受信日", optional(yyyymmdd)),
    Column("支給日", yyyymmdd),
)


class SchedulesLoader:
    """``cjs bank load core schedules FILE``: months of the deposit groups' schedules, added or
    updated by deposit group, 区分 and 控除年月 (a month not in the file stays as it is)."""

    kind = "schedules"
    title = "スケジュール"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every month of the file, or an error for each refused cell or line."""
        rows, errors = read_rows(data, COLUMNS)
        organisations = Organisations(dbsession)
        months: list[ScheduleData] = []
        seen: set[tuple[int, Cycle, dt.date]] = set()
        for line, values in rows:
            contract_no, group_no, cycle, month, deadline, request_on, result_on, payment_on = (
                values
            )
            group = organisations.group(contract_no, group_no)
            if group is None:
                errors.append(
                    RowError(
                        line, "この契約にこの入金グループはありません。", "入金グループ", group_no
                    )
                )
                continue
            if (group.id, cycle, month) in seen:
                errors.append(
                    RowError(
                        line,
                        "同じ入金グループ・区分・控除年月がファイル内にあります。",
                        "控除年月",
                        f"{month:%Y%m}",
                    )
                )
                continue
            seen.add((group.id, cycle, month))
            months.append(
                ScheduleData(group, cycle, month, deadline, request_on, result_on, payment_on)
            )
        return Parsed(rows=months, errors=sorted(errors, key=lambda e: e.line))

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Add or update each month; the core commits them with the file's audit event."""
        for row in rows:
            save_schedule(dbsession, row)
