"""The bank's 一斉積立 files (``cjs bank load collective_savings rounds|details|changes FILE``),
formats in docs/data-formats.md: cp932 CSV without a header line, kana in half-width.

Each file is all or nothing (the core refuses it at the first bad row, listing every one) and
idempotent: a rounds file updates the rounds it names; a details or changes file replaces the
details or changes of each round it names, so loading it again, or a corrected one, never doubles.
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
    digits,
    read_rows,
    yyyymmdd,
)
from core.dataload import text as free_text
from core.db.models import DepositGroup
from core.hookspecs import Parsed, RowError
from core.i18n import _
from core.security.tenancy import scope_values, scoped_select
from plugins.collective_savings.models import SavingsChange, SavingsDetail, SavingsRound
from plugins.collective_savings.savings import ROUNDS

KEY_COLUMNS = (*GROUP_COLUMNS, Column("回号", digits(3)))
PERSON_COLUMNS = (*EMPLOYEE_COLUMNS, Column("店番", digits(3)), Column("口座番号", digits(7)))
ROUND_COLUMNS = (
    *KEY_COLUMNS,
    Column("一斉積立名", free_text(20)),
    Column("作成日", yyyymmdd),
    Column("作成区分", choice({"0": False, "1": True})),
)
DETAIL_COLUMNS = (*KEY_COLUMNS, *PERSON_COLUMNS, Column("積立金額", amount()))
CHANGE_COLUMNS = (
    *KEY_COLUMNS,
    *PERSON_COLUMNS,
    Column("変更区分", choice(stored_texts(CHANGE_KINDS))),
    Column("変更前積立金額", amount()),
    Column("変更後積立金額", amount()),
)


@dataclass(frozen=True)
class _Round:
    group: DepositGroup
    values: dict[str, Any]


class RoundsLoader:
    """一斉積立回 (rounds): number, name, creation date, 臨時作成 or regular."""

    kind = "rounds"
    title: str = _("一斉積立回")

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every round of the file, or an error for each bad row."""
        rows, errors = read_rows(data, ROUND_COLUMNS)
        groups = ROUNDS.groups(dbsession)
        parsed: list[_Round] = []
        seen: set[tuple[int, str]] = set()
        for line, (contract_no, group_no, round_no, name, created_on, extra) in rows:
            group = groups.find(line, contract_no, group_no)
            if isinstance(group, RowError):
                errors.append(group)
            elif (group.id, round_no) in seen:
                errors.append(RowError(line, "同じ回号が重複しています。", "回号", round_no))
            else:
                seen.add((group.id, round_no))
                values = {"name": name, "created_on": created_on, "extraordinary": extra}
                parsed.append(_Round(group, {"round_no": round_no, **values}))
        return Parsed(rows=parsed, errors=sorted(errors, key=lambda e: e.line))

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Add the new rounds, update the ones the group already has."""
        for row in rows:
            existing = dbsession.scalars(
                scoped_select(row.group, SavingsRound).where(
                    SavingsRound.round_no == row.values["round_no"]
                )
            ).one_or_none()
            if existing is None:
                dbsession.add(SavingsRound(**scope_values(row.group), **row.values, loaded_at=now))
            else:
                for key, value in row.values.items():
                    setattr(existing, key, value)
                existing.loaded_at = now


class _RoundLines(BatchLinesLoader):
    """A file of lines per employee for rounds already loaded: replaces each round's lines."""

    batches = ROUNDS
    duplicate = "同じ回の職員番号が重複しています。"


PERSON_NAMES = (*EMPLOYEE_NAMES, "branch_no", "account_no")


class DetailsLoader(_RoundLines):
    """一斉積立内訳明細: per employee, the savings account and the amount of a round."""

    kind = "details"
    title: str = _("一斉積立内訳明細")
    columns = DETAIL_COLUMNS
    model = SavingsDetail
    names = (*PERSON_NAMES, "amount")


class ChangesLoader(_RoundLines):
    """一斉積立変更明細: per employee, what changed in a round (before → after)."""

    kind = "changes"
    title: str = _("一斉積立変更明細")
    columns = CHANGE_COLUMNS
    model = SavingsChange
    names = (*PERSON_NAMES, "change_kind", "amount_before", "amount_after")


LOADERS = (RoundsLoader(), DetailsLoader(), ChangesLoader())
