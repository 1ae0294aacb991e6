"""The bank's 財形 files (``cjs bank load zaikei runs|details|changes FILE``), formats in
docs/data-formats.md: cp932 CSV with a header line, kana in half-width.

All or nothing and idempotent like every loader: a runs file adds or keeps the runs it names (and
only the newest three of each document stay, with their lines); a details or changes file replaces
the lines of each run it names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.batches import CHANGE_KINDS, BatchLinesLoader, stored_texts
from core.dataload import (
    EMPLOYEE_COLUMNS,
    EMPLOYEE_NAMES,
    GROUP_COLUMNS,
    Column,
    amount,
    choice,
    read_rows,
    yyyymmdd,
)
from core.db.models import DepositGroup
from core.hookspecs import Parsed, RowError
from core.i18n import _
from core.security.tenancy import scope_values, scoped_delete, scoped_select
from plugins.zaikei.models import (
    DEPOSIT_DOCUMENTS,
    DOCUMENTS,
    SAVINGS_KINDS,
    ZaikeiChange,
    ZaikeiDetail,
    ZaikeiRun,
)
from plugins.zaikei.records import KEEP_RUNS, RUNS

RUN_COLUMNS = (
    *GROUP_COLUMNS,
    Column("作成区分", choice({code: code for code in DOCUMENTS})),
    Column("作成基準日", yyyymmdd),
)
PERSON_COLUMNS = (
    *GROUP_COLUMNS,
    Column("作成区分", choice({code: code for code in DEPOSIT_DOCUMENTS})),
    Column("作成基準日", yyyymmdd),
    *EMPLOYEE_COLUMNS,
    Column("財形種類", choice(stored_texts(SAVINGS_KINDS))),
)
DETAIL_COLUMNS = (
    *PERSON_COLUMNS,
    Column("月例積立額", amount()),
    Column("夏季一時金積立額", amount()),
    Column("年末一時金積立額", amount()),
    Column("残高", amount(11)),
)
CHANGE_COLUMNS = (
    *PERSON_COLUMNS,
    Column("変更区分", choice(stored_texts(CHANGE_KINDS))),
    Column("変更前積立額", amount()),
    Column("変更後積立額", amount()),
)


@dataclass(frozen=True)
class _Run:
    group: DepositGroup
    document: str
    basis_date: dt.date


class RunsLoader:
    """財形作成基準日: the documents the bank made and the 作成基準日 of each."""

    kind = "runs"
    title: str = _("財形作成基準日")

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every run of the file, or an error for each bad row."""
        rows, errors = read_rows(data, RUN_COLUMNS)
        groups = RUNS.groups(dbsession)
        parsed = []
        for line, (contract_no, group_no, document, basis_date) in rows:
            group = groups.find(line, contract_no, group_no)
            if isinstance(group, RowError):
                errors.append(group)
            else:
                parsed.append(_Run(group, document, basis_date))
        return Parsed(rows=parsed, errors=sorted(errors, key=lambda e: e.line))

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Add the new runs; keep the newest three of each document (older ones go with their lines)."""
        for row in rows:
            same = scoped_select(row.group, ZaikeiRun).where(
                ZaikeiRun.document == row.document, ZaikeiRun.basis_date == row.basis_date
            )
            if dbsession.scalars(same).one_or_none() is None:
                dbsession.add(
                    ZaikeiRun(
                        **scope_values(row.group),
                        document=row.document,
                        basis_date=row.basis_date,
                        loaded_at=now,
                    )
                )
        dbsession.flush()
        for group, document in {(row.group, row.document) for row in rows}:
            runs = dbsession.scalars(
                scoped_select(group, ZaikeiRun)
                .where(ZaikeiRun.document == document)
                .order_by(ZaikeiRun.basis_date.desc())
            ).all()
            for old in runs[KEEP_RUNS:]:
                for model in (ZaikeiDetail, ZaikeiChange):
                    dbsession.execute(scoped_delete(group, model).where(model.run_id == old.id))
                dbsession.delete(old)


class _RunLines(BatchLinesLoader):
    """A file of lines per employee and kind for runs already loaded: replaces each run's lines."""

    batches = RUNS
    unique = ("employee_no", "savings_kind")
    duplicate = "同じ職員番号・財形種類が重複しています。"


PERSON_NAMES = (*EMPLOYEE_NAMES, "savings_kind")


class DetailsLoader(_RunLines):
    """財形積立明細: per employee and kind, the amount per cycle and the balance."""

    kind = "details"
    title: str = _("財形積立明細")
    columns = DETAIL_COLUMNS
    model = ZaikeiDetail
    names = (*PERSON_NAMES, "amount_monthly", "amount_summer", "amount_winter", "balance")


class ChangesLoader(_RunLines):
    """財形積立変更明細: per employee and kind, what changed in a run (預入依頼書 only)."""

    kind = "changes"
    title: str = _("財形積立変更明細")
    columns = CHANGE_COLUMNS
    model = ZaikeiChange
    names = (*PERSON_NAMES, "change_kind", "amount_before", "amount_after")


LOADERS = (RunsLoader(), DetailsLoader(), ChangesLoader())
