"""Reading the core's bank data files (お知らせ, スケジュール; docs/data-formats.md).

A file is CSV in Shift_JIS (cp932, as the bank's systems write it; UTF-8 is read too). Its first line
names the columns, exactly as documented, so a file of another kind is refused at line 1. Every cell
is checked; each refused cell becomes a :class:`core.hookspecs.RowError` with its line, column name,
value and a Japanese message, so the bank sees every fault of a file at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Contract, DepositGroup
from core.hookspecs import RowError
from core.outputs.csvexport import csv_records
from core.timefmt import JST

T = TypeVar("T")


@dataclass
class Record:
    """One data line of a file: its line number and its cells by column name (stripped)."""

    line: int
    cells: dict[str, str]
    errors: list[RowError] = field(default_factory=list)

    def get(self, column: str, parse: Callable[[str], T]) -> T | None:
        """The cell of ``column`` parsed by ``parse``; None, with an error noted, if it raises
        ValueError (whose text is the message)."""
        value = self.cells[column]
        try:
            return parse(value)
        except ValueError as exc:
            self.refuse(str(exc), column)
            return None

    def refuse(self, message: str, column: str = "") -> None:
        """Note an error of this line (of the cell of ``column``, when one is at fault)."""
        value = self.cells.get(column, "") if column else ""
        self.errors.append(RowError(self.line, message, column, value))


def read_records(data: bytes, columns: Sequence[str]) -> tuple[list[Record], list[RowError]]:
    """The data lines of a file whose header line is ``columns``, and the errors of the file's
    shape (encoding, header, number of cells); empty lines are skipped."""
    try:
        rows = csv_records(data)
    except ValueError as exc:
        return [], [RowError(1, str(exc))]
    header = ",".join(columns)
    if not rows or [cell.strip() for cell in rows[0][1]] != list(columns):
        return [], [RowError(1, f"1行目は見出し行「{header}」にしてください。")]
    records: list[Record] = []
    errors: list[RowError] = []
    for line, cells in rows[1:]:
        if len(cells) != len(columns):
            errors.append(
                RowError(line, f"項目数が{len(cells)}です。{len(columns)}項目にしてください。")
            )
            continue
        records.append(Record(line, dict(zip(columns, (c.strip() for c in cells), strict=True))))
    return records, errors


def text(max_length: int, *, required: bool = True) -> Callable[[str], str]:
    """A parser of free text of at most ``max_length`` characters (required unless said)."""

    def parse(value: str) -> str:
        if required and not value:
            raise ValueError("入力してください。")
        if len(value) > max_length:
            raise ValueError(f"{max_length}文字以内にしてください（{len(value)}文字）。")
        return value

    return parse


def _digits(value: str, count: int, example: str) -> str:
    if len(value) != count or not value.isascii() or not value.isdigit():
        raise ValueError(f"半角数字{count}桁（例 {example}）で入力してください。")
    return value


def date(value: str) -> dt.date:
    """``YYYYMMDD`` → a date."""
    digits = _digits(value, 8, "20241009")
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ValueError("存在しない日付です。") from None


def optional_date(value: str) -> dt.date | None:
    """``YYYYMMDD`` or empty (None)."""
    return date(value) if value else None


def month(value: str) -> dt.date:
    """``YYYYMM`` → the first day of that month."""
    digits = _digits(value, 6, "202410")
    if not 1 <= int(digits[4:]) <= 12:
        raise ValueError("存在しない月です。")
    return dt.date(int(digits[:4]), int(digits[4:]), 1)


def jst_minute(value: str) -> dt.datetime:
    """``YYYYMMDDHHMM`` in Japan time → an aware datetime."""
    digits = _digits(value, 12, "202410090900")
    try:
        return dt.datetime(
            int(digits[:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:]),
            tzinfo=JST,
        )
    except ValueError:
        raise ValueError("存在しない日時です。") from None


def optional_jst_minute(value: str) -> dt.datetime | None:
    """``YYYYMMDDHHMM`` in Japan time, or empty (None)."""
    return jst_minute(value) if value else None


def choice(choices: Sequence[str]) -> Callable[[str], str]:
    """A parser accepting one of ``choices`` as written."""

    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{'、'.join(choices)}のいずれかにしてください。")
        return value

    return parse


class Organisations:
    """The contracts and deposit groups a file may name, read once per file."""

    def __init__(self, dbsession: Session) -> None:
        self.contracts = {c.contract_no: c for c in dbsession.scalars(select(Contract))}
        self.groups = {
            (g.contract.contract_no, g.group_no): g for g in dbsession.scalars(select(DepositGroup))
        }

    def contract(self, record: Record, column: str) -> Contract | None:
        """The contract whose number is in ``column``; None with an error if there is none."""
        found = self.contracts.get(record.cells[column])
        if found is None:
            record.refuse("この契約番号の契約はありません。", column)
        return found

    def group(self, record: Record, contract_column: str, column: str) -> DepositGroup | None:
        """The deposit group of the contract in ``contract_column`` numbered in ``column``; None
        with an error if there is none."""
        found = self.groups.get((record.cells[contract_column], record.cells[column]))
        if found is None:
            record.refuse("この契約にこの入金グループはありません。", column)
        return found
