"""The bank's notes file (``cjs bank load example_notes notes FILE``): a header line
``契約番号,入金グループ,件名,金額``, then one note a line (cp932, read by ``core.dataload``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cjs_example_module import notes
from core import dataload
from core.db.models import Contract, DepositGroup
from core.hookspecs import Parsed, RowError

TITLE_MAX = 40
#: The columns of the file, in order: a deposit group, the note's title and amount.
COLUMNS = (
    dataload.Column("契約番号", dataload.digits(8)),
    dataload.Column("入金グループ", dataload.digits(8)),
    dataload.Column("件名", dataload.text(TITLE_MAX)),
    dataload.Column("金額", dataload.amount()),
)


@dataclass(frozen=True)
class _Row:
    group: DepositGroup
    title: str
    amount: int


class NotesLoader:
    """Loads notes for deposit groups; a row naming an unknown group or a bad cell refuses all."""

    kind = "notes"
    title = "連絡メモ"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every row of the file, or an error for each row that cannot be stored."""
        records, errors = dataload.read_rows(data, COLUMNS)
        rows: list[_Row] = []
        for line, (contract_no, group_no, title, amount) in records:
            group = dbsession.scalars(
                select(DepositGroup)
                .join(Contract)
                .where(Contract.contract_no == contract_no, DepositGroup.group_no == group_no)
            ).one_or_none()
            if group is None:
                message = f"入金グループ {contract_no}-{group_no} がありません。"
                errors.append(RowError(line, message, "入金グループ", group_no))
            else:
                rows.append(_Row(group, title, amount))
        return Parsed(rows=rows, errors=sorted(errors, key=lambda error: error.line))

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
