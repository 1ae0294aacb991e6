"""The bank's 財形 files (``cjs bank load zaikei runs|details|changes FILE``), formats in
docs/data-formats.md: cp932 CSV with a header line, kana in half-width.

All or nothing and idempotent like every loader: a runs file adds or keeps the runs it names (and
only the newest three of each document stay, with their lines); a details or changes file replaces
the lines of each run it names.
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
from core.db.models import Contract, DepositGroup, ModuleEnablement
from core.hookspecs import Parsed, RowError
from core.security.tenancy import (
    replace_scoped_rows,
    scope_values,
    scoped_delete,
    scoped_select,
)
from plugins.zaikei.models import (
    DEPOSIT_DOCUMENTS,
    DOCUMENTS,
    SAVINGS_KINDS,
    ZaikeiChange,
    ZaikeiDetail,
    ZaikeiRun,
)
from plugins.zaikei.records import CODE, KEEP_RUNS

RUN_COLUMNS = (
    Column("契約番号", digits(8)),
    Column("入金グループ", digits(8)),
    Column("作成区分", choice({code: code for code in DOCUMENTS})),
    Column("作成基準日", yyyymmdd),
)
PERSON_COLUMNS = (
    Column("契約番号", digits(8)),
    Column("入金グループ", digits(8)),
    Column("作成区分", choice({code: code for code in DEPOSIT_DOCUMENTS})),
    Column("作成基準日", yyyymmdd),
    Column("職員番号", digits(max_length=10)),
    Column("カナ氏名", half_width_kana(30)),
    Column("漢字氏名", full_width(20)),
    Column("財形種類", choice(SAVINGS_KINDS)),
)
DETAIL_COLUMNS = (
    *PERSON_COLUMNS,
    Column("月例積立額", amount()),
    Column("夏季一時金積立額", amount()),
    Column("年末一時金積立額", amount()),
    Column("残高", amount(11)),
)
CHANGE_KINDS = {"1": "新規", "2": "変更", "3": "解約"}
CHANGE_COLUMNS = (
    *PERSON_COLUMNS,
    Column("変更区分", choice(CHANGE_KINDS)),
    Column("変更前積立額", amount()),
    Column("変更後積立額", amount()),
)


def _groups(dbsession: Session) -> dict[tuple[str, str], DepositGroup]:
    rows = dbsession.execute(
        select(Contract.contract_no, DepositGroup)
        .join(DepositGroup, DepositGroup.contract_id == Contract.id)
        .join(ModuleEnablement, ModuleEnablement.deposit_group_id == DepositGroup.id)
        .where(ModuleEnablement.module_code == CODE)
    ).all()
    return {(contract_no, group.group_no): group for contract_no, group in rows}


def _no_group(line: int, group_no: str) -> RowError:
    return RowError(line, "財形を利用する入金グループがありません。", "入金グループ", group_no)


@dataclass(frozen=True)
class _Run:
    group: DepositGroup
    document: str
    basis_date: dt.date


class RunsLoader:
    """財形作成基準日: the documents the bank made and the 作成基準日 of each."""

    kind = "runs"
    title = "財形作成基準日"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every run of the file, or an error for each bad row."""
        rows, errors = read_rows(data, RUN_COLUMNS)
        groups = _groups(dbsession)
        parsed = []
        for line, (contract_no, group_no, document, basis_date) in rows:
            group = groups.get((contract_no, group_no))
            if group is None:
                errors.append(_no_group(line, group_no))
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


@dataclass(frozen=True)
class _Line:
    group: DepositGroup
    run_id: int
    values: dict[str, Any]


class _RunLinesLoader:
    """A file of lines per employee for runs already loaded: replaces each run's lines."""

    kind: str
    title: str
    columns: Sequence[Column]
    model: type[ZaikeiDetail] | type[ZaikeiChange]
    names: tuple[str, ...]

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every line of the file, or an error for each bad row."""
        rows, errors = read_rows(data, self.columns)
        groups = _groups(dbsession)
        # Looked up once per (contract, group, document, 作成基準日) of the file.
        runs: dict[tuple[str, str, str, dt.date], tuple[DepositGroup, int] | RowError] = {}
        seen: set[tuple[Any, ...]] = set()
        parsed: list[_Line] = []
        for line, (contract_no, group_no, document, basis_date, *values) in rows:
            key = (contract_no, group_no, document, basis_date)
            found = runs.get(key)
            if found is None:
                found = runs[key] = self._run(dbsession, groups, line, key)
            if isinstance(found, RowError):
                errors.append(replace(found, line=line))
                continue
            employee_no, kind = values[0], values[3]
            if (*key, employee_no, kind) in seen:
                errors.append(
                    RowError(
                        line, "同じ職員番号・財形種類が重複しています。", "職員番号", employee_no
                    )
                )
                continue
            seen.add((*key, employee_no, kind))
            parsed.append(_Line(found[0], found[1], dict(zip(self.names, values, strict=True))))
        return Parsed(rows=parsed, errors=sorted(errors, key=lambda e: e.line))

    @staticmethod
    def _run(
        dbsession: Session,
        groups: dict[tuple[str, str], DepositGroup],
        line: int,
        key: tuple[str, str, str, dt.date],
    ) -> tuple[DepositGroup, int] | RowError:
        """The group and the id of run ``key``, or why the line is refused."""
        contract_no, group_no, document, basis_date = key
        group = groups.get((contract_no, group_no))
        if group is None:
            return _no_group(line, group_no)
        run_id = dbsession.scalar(
            scoped_select(group, ZaikeiRun, ZaikeiRun.id).where(
                ZaikeiRun.document == document, ZaikeiRun.basis_date == basis_date
            )
        )
        if run_id is None:
            return RowError(
                line,
                "この作成基準日の財形データが取り込まれていません。",
                "作成基準日",
                f"{basis_date:%Y%m%d}",
            )
        return group, run_id

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Replace the lines of every run in the file."""
        by_run: dict[int, list[_Line]] = {}
        for line in rows:
            by_run.setdefault(line.run_id, []).append(line)
        for run_id, lines in by_run.items():
            replace_scoped_rows(
                dbsession,
                lines[0].group,
                self.model,
                self.model.run_id == run_id,
                [{"run_id": run_id, **line.values} for line in lines],
            )


PERSON_NAMES = ("employee_no", "name_kana", "name_kanji", "savings_kind")


class DetailsLoader(_RunLinesLoader):
    """財形積立明細: per employee and kind, the amount per cycle and the balance."""

    kind = "details"
    title = "財形積立明細"
    columns = DETAIL_COLUMNS
    model = ZaikeiDetail
    names = (*PERSON_NAMES, "amount_monthly", "amount_summer", "amount_winter", "balance")


class ChangesLoader(_RunLinesLoader):
    """財形積立変更明細: per employee and kind, what changed in a run (預入依頼書 only)."""

    kind = "changes"
    title = "財形積立変更明細"
    columns = CHANGE_COLUMNS
    model = ZaikeiChange
    names = (*PERSON_NAMES, "change_kind", "amount_before", "amount_after")


LOADERS = (RunsLoader(), DetailsLoader(), ChangesLoader())
