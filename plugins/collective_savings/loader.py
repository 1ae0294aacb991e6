"""The bank's 一斉積立 files (``cjs bank load collective_savings rounds|details|changes FILE``),
formats in docs/data-formats.md: cp932 CSV without a header line, kana in half-width.

Each file is all or nothing (the core refuses it at the first bad row, listing every one) and
idempotent: a rounds file updates the rounds it names; a details or changes file replaces the
details or changes of each round it names, so loading it again, or a corrected one, never doubles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.dataload import (
    Column,
    amount,
    choice,
    digits,
    full_width,
    half_width_kana,
    read_rows,
    yyyymmdd,
)
from core.dataload import text as free_text
from core.db.models import Contract, DepositGroup, ModuleEnablement
from core.hookspecs import Parsed, RowError
from core.security.tenancy import (
    replace_scoped_rows,
    scope_values,
    scoped_select,
)
from plugins.collective_savings.models import SavingsChange, SavingsDetail, SavingsRound
from plugins.collective_savings.savings import CODE

KEY_COLUMNS = (
    Column("契約番号", digits(8)),
    Column("入金グループ", digits(8)),
    Column("回号", digits(3)),
)
PERSON_COLUMNS = (
    Column("職員番号", digits(max_length=10)),
    Column("カナ氏名", half_width_kana(30)),
    Column("漢字氏名", full_width(20)),
    Column("店番", digits(3)),
    Column("口座番号", digits(7)),
)
ROUND_COLUMNS = (
    *KEY_COLUMNS,
    Column("一斉積立名", free_text(20)),
    Column("作成日", yyyymmdd),
    Column("作成区分", choice({"0": False, "1": True})),
)
DETAIL_COLUMNS = (*KEY_COLUMNS, *PERSON_COLUMNS, Column("積立金額", amount()))
CHANGE_KINDS = {"1": "新規", "2": "変更", "3": "解約"}
CHANGE_COLUMNS = (
    *KEY_COLUMNS,
    *PERSON_COLUMNS,
    Column("変更区分", choice(CHANGE_KINDS)),
    Column("変更前積立金額", amount()),
    Column("変更後積立金額", amount()),
)


class _Groups:
    """The deposit groups with 一斉積立 enabled, by (contract number, group number), read once."""

    def __init__(self, dbsession: Session) -> None:
        rows = dbsession.execute(
            select(Contract.contract_no, DepositGroup)
            .join(DepositGroup, DepositGroup.contract_id == Contract.id)
            .join(ModuleEnablement, ModuleEnablement.deposit_group_id == DepositGroup.id)
            .where(ModuleEnablement.module_code == CODE)
        ).all()
        self.by_number = {(contract_no, group.group_no): group for contract_no, group in rows}

    def find(self, line: int, contract_no: str, group_no: str) -> DepositGroup | RowError:
        group = self.by_number.get((contract_no, group_no))
        if group is None:
            return RowError(
                line,
                f"一斉積立を利用する入金グループ {contract_no}-{group_no} がありません。",
                "入金グループ",
                group_no,
            )
        return group


@dataclass(frozen=True)
class _Round:
    group: DepositGroup
    values: dict[str, Any]


class RoundsLoader:
    """一斉積立回 (rounds): number, name, creation date, 臨時作成 or regular."""

    kind = "rounds"
    title = "一斉積立回"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every round of the file, or an error for each bad row."""
        rows, errors = read_rows(data, ROUND_COLUMNS)
        groups = _Groups(dbsession)
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


@dataclass(frozen=True)
class _Line:
    """A parsed line of a details or changes file: its group, its round, its values."""

    group: DepositGroup
    round_id: int
    values: dict[str, Any]


class _RoundLinesLoader:
    """A file of lines per employee for rounds already loaded: replaces each round's lines."""

    kind: str
    title: str
    columns: Sequence[Column]
    model: type[SavingsDetail] | type[SavingsChange]
    names: tuple[str, ...]

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every line of the file, or an error for each bad row."""
        rows, errors = read_rows(data, self.columns)
        groups = _Groups(dbsession)
        # Looked up once per (contract, group, round) of the file: 100,000 lines name a few rounds.
        rounds: dict[tuple[str, str, str], tuple[DepositGroup, int] | RowError] = {}
        parsed: list[_Line] = []
        seen: set[tuple[str, str, str, str]] = set()
        for line, (contract_no, group_no, round_no, *values) in rows:
            key = (contract_no, group_no, round_no)
            found = rounds.get(key)
            if found is None:
                found = rounds[key] = self._round(dbsession, groups, line, key)
            if isinstance(found, RowError):
                errors.append(replace(found, line=line))
                continue
            employee_no = values[0]
            if (*key, employee_no) in seen:
                errors.append(
                    RowError(line, "同じ回の職員番号が重複しています。", "職員番号", employee_no)
                )
                continue
            seen.add((*key, employee_no))
            parsed.append(_Line(found[0], found[1], dict(zip(self.names, values, strict=True))))
        return Parsed(rows=parsed, errors=sorted(errors, key=lambda e: e.line))

    @staticmethod
    def _round(
        dbsession: Session, groups: _Groups, line: int, key: tuple[str, str, str]
    ) -> tuple[DepositGroup, int] | RowError:
        """The group and the id of round ``key``, or why the line is refused."""
        contract_no, group_no, round_no = key
        group = groups.find(line, contract_no, group_no)
        if isinstance(group, RowError):
            return group
        round_id = dbsession.scalar(
            scoped_select(group, SavingsRound, SavingsRound.id).where(
                SavingsRound.round_no == round_no
            )
        )
        if round_id is None:
            return RowError(line, "この回号の一斉積立回が取り込まれていません。", "回号", round_no)
        return group, round_id

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Replace the lines of every round in the file."""
        by_round: dict[int, list[_Line]] = {}
        for line in rows:
            by_round.setdefault(line.round_id, []).append(line)
        for round_id, lines in by_round.items():
            replace_scoped_rows(
                dbsession,
                lines[0].group,
                self.model,
                self.model.round_id == round_id,
                [{"round_id": round_id, **line.values} for line in lines],
            )


PERSON_NAMES = ("employee_no", "name_kana", "name_kanji", "branch_no", "account_no")


class DetailsLoader(_RoundLinesLoader):
    """一斉積立内訳明細: per employee, the savings account and the amount of a round."""

    kind = "details"
    title = "一斉積立内訳明細"
    columns = DETAIL_COLUMNS
    model = SavingsDetail
    names = (*PERSON_NAMES, "amount")


class ChangesLoader(_RoundLinesLoader):
    """一斉積立変更明細: per employee, what changed in a round (before → after)."""

    kind = "changes"
    title = "一斉積立変更明細"
    columns = CHANGE_COLUMNS
    model = SavingsChange
    names = (*PERSON_NAMES, "change_kind", "amount_before", "amount_after")


LOADERS = (RoundsLoader(), DetailsLoader(), ChangesLoader())
