"""The bank's notes file (``cjs bank load example_notes notes FILE``):
``contract_no,group_no,title,amount``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cjs_example_module import notes
from core.db.models import Contract, DepositGroup
from core.hookspecs import Parsed, RowError
from core.outputs.csvexport import csv_records

TITLE_MAX = 40


@dataclass(frozen=True)
class _Row:
    group: DepositGroup
    title: str
    amount: int


class NotesLoader:
    """Loads notes for deposit groups; a row naming an unknown group or a bad amount refuses all."""

    kind = "notes"
    title = "連絡メモ"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every row of the file, or an error for each row that cannot be stored."""
        try:
            records = csv_records(data)
        except ValueError as exc:
            return Parsed(errors=[RowError(1, str(exc))])
        rows: list[_Row] = []
        errors: list[RowError] = []
        for line, record in records:
            if len(record) != 4:
                errors.append(RowError(line, "項目数が4ではありません。"))
                continue
            contract_no, group_no, title, amount = (cell.strip() for cell in record)
            group = dbsession.scalars(
                select(DepositGroup)
                .join(Contract)
                .where(Contract.contract_no == contract_no, DepositGroup.group_no == group_no)
            ).one_or_none()
            if group is None:
                errors.append(
                    RowError(line, f"入金グループ {contract_no}-{group_no} がありません。")
                )
            elif not title or len(title) > TITLE_MAX:
                errors.append(RowError(line, f"件名は1～{TITLE_MAX}文字で入力してください。"))
            elif not amount.isdecimal():
                errors.append(RowError(line, "金額は半角数字で入力してください。"))
            else:
                rows.append(_Row(group, title, int(amount)))
        return Parsed(rows=rows, errors=errors)

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Write the notes; the core commits them with the file's audit event."""
        for row in rows:
            notes.add_note(
                dbsession,
                row.group,
                title=row.title,
                amount=row.amount,
                created_by=notes.BANK,
                now=now,
            )
