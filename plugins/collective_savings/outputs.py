"""一斉積立内訳明細表 and 一斉積立変更明細表 as A4 PDF lists (streamed, the bank's page header, totals
at the end) and as CSV (cp932, or UTF-8 with ``?encoding=utf-8``), for the round of ``?round=``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from core.hookspecs import CsvTable, Output, OutputContext
from core.outputs.pdfstream import ListColumn, ListHeader, amount, group_header, list_pdf
from core.outputs.rows import streamed
from plugins.collective_savings import savings
from plugins.collective_savings.models import SavingsChange, SavingsDetail, SavingsRound

DETAILS_TITLE = "一斉積立内訳明細表"
CHANGES_TITLE = "一斉積立変更明細表"

PERSON_HEADER = ["職員番号", "カナ氏名", "漢字氏名", "店番", "口座番号"]
DETAILS_HEADER = ["回号", "一斉積立名", *PERSON_HEADER, "積立金額"]
CHANGES_HEADER = [
    "回号",
    "一斉積立名",
    *PERSON_HEADER,
    "変更区分",
    "変更前積立金額",
    "変更後積立金額",
]

PERSON_COLUMNS = [
    ListColumn("No", 12, "right"),
    ListColumn("職員番号", 22),
    ListColumn("カナ氏名", 42),
    ListColumn("漢字氏名", 34),
    ListColumn("店番", 10, "center"),
    ListColumn("口座番号", 16, "center"),
]
DETAIL_COLUMNS = [*PERSON_COLUMNS, ListColumn("積立金額", 24, "right", amount)]
CHANGE_COLUMNS = [
    *PERSON_COLUMNS[:4],
    ListColumn("変更区分", 14, "center"),
    ListColumn("変更前金額", 22, "right", amount),
    ListColumn("変更後金額", 22, "right", amount),
]


def _header(context: OutputContext, title: str, chosen: SavingsRound) -> ListHeader:
    return group_header(
        context, f"{title}　{savings.ROUNDS.describe(chosen)}", basis_date=chosen.created_on
    )


def _person(line: SavingsDetail | SavingsChange) -> list[Any]:
    return [line.employee_no, line.name_kana, line.name_kanji, line.branch_no, line.account_no]


def _ordered_details(context: OutputContext, chosen: SavingsRound) -> Iterator[SavingsDetail]:
    statement = savings.details(context, chosen).order_by(SavingsDetail.employee_no)
    return streamed(context.dbsession, statement)


def _ordered_changes(context: OutputContext, chosen: SavingsRound) -> Iterator[SavingsChange]:
    statement = savings.changes(context, chosen).order_by(SavingsChange.employee_no)
    return streamed(context.dbsession, statement)


def details_pdf(context: OutputContext) -> IO[bytes]:
    """一斉積立内訳明細表 (PDF): the round's details by employee number, count and total at the end."""
    chosen = savings.ROUNDS.for_output(context)
    count, total = savings.detail_totals(context.dbsession, context, chosen)
    rows = (
        [number, *_person(line), line.amount]
        for number, line in enumerate(_ordered_details(context, chosen), 1)
    )
    return list_pdf(
        _header(context, DETAILS_TITLE, chosen),
        DETAIL_COLUMNS,
        rows,
        row_count=count,
        totals=[("合計件数", f"{count:,}件"), ("合計積立金額", f"{total:,}円")],
    )


def changes_pdf(context: OutputContext) -> IO[bytes]:
    """一斉積立変更明細表 (PDF): the round's changes by employee number, totals at the end."""
    chosen = savings.ROUNDS.for_output(context)
    count, before, after = savings.change_totals(context.dbsession, context, chosen)
    rows = (
        [number, *_person(line)[:3], line.change_kind, line.amount_before, line.amount_after]
        for number, line in enumerate(_ordered_changes(context, chosen), 1)
    )
    return list_pdf(
        _header(context, CHANGES_TITLE, chosen),
        CHANGE_COLUMNS,
        rows,
        row_count=count,
        totals=[
            ("合計件数", f"{count:,}件"),
            ("変更前積立金額合計", f"{before:,}円"),
            ("変更後積立金額合計", f"{after:,}円"),
        ],
    )


def details_csv(context: OutputContext) -> CsvTable:
    """一斉積立内訳明細 (CSV): the same lines, one per employee."""
    chosen = savings.ROUNDS.for_output(context)
    prefix = [chosen.round_no, chosen.name]
    rows = ([*prefix, *_person(line), line.amount] for line in _ordered_details(context, chosen))
    return CsvTable(DETAILS_HEADER, rows)


def changes_csv(context: OutputContext) -> CsvTable:
    """一斉積立変更明細 (CSV): the same lines, one per employee."""
    chosen = savings.ROUNDS.for_output(context)
    prefix = [chosen.round_no, chosen.name]
    rows = (
        [*prefix, *_person(line), line.change_kind, line.amount_before, line.amount_after]
        for line in _ordered_changes(context, chosen)
    )
    return CsvTable(CHANGES_HEADER, rows)


OUTPUTS = [
    Output("details-pdf", DETAILS_TITLE, "pdf", details_pdf),
    Output("changes-pdf", CHANGES_TITLE, "pdf", changes_pdf),
    Output("details-csv", "一斉積立内訳明細データ", "csv", details_csv),
    Output("changes-csv", "一斉積立変更明細データ", "csv", changes_csv),
]
