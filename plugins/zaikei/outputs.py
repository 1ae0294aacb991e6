"""財形積立明細書 and 財形積立変更明細書（預入依頼書のみ） as A4 PDF lists (streamed, the bank's page
header, totals at the end) and both as CSV, for the run of ``?run=`` (the newest by default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from core.hookspecs import CsvTable, Output, OutputContext
from core.outputs.pdfstream import ListColumn, ListHeader, amount, group_header, list_pdf
from core.outputs.rows import streamed
from plugins.zaikei import records
from plugins.zaikei.models import ZaikeiChange, ZaikeiDetail, ZaikeiRun

DETAILS_TITLE = "財形積立明細書"
CHANGES_TITLE = "財形積立変更明細書（預入依頼書のみ）"

PERSON_HEADER = ["職員番号", "カナ氏名", "漢字氏名", "財形種類"]
DETAILS_HEADER = [
    "帳票",
    "作成基準日",
    *PERSON_HEADER,
    "月例積立額",
    "夏季一時金積立額",
    "年末一時金積立額",
    "残高",
]
CHANGES_HEADER = ["帳票", "作成基準日", *PERSON_HEADER, "変更区分", "変更前積立額", "変更後積立額"]

PERSON_COLUMNS = [
    ListColumn("No", 10, "right"),
    ListColumn("職員番号", 20),
    ListColumn("カナ氏名", 34),
    ListColumn("漢字氏名", 28),
    ListColumn("種類", 10, "center"),
]
DETAIL_COLUMNS = [
    *PERSON_COLUMNS,
    ListColumn("月例", 20, "right", amount),
    ListColumn("夏季一時金", 20, "right", amount),
    ListColumn("年末一時金", 20, "right", amount),
    ListColumn("残高", 24, "right", amount),
]
CHANGE_COLUMNS = [
    *PERSON_COLUMNS,
    ListColumn("変更区分", 16, "center"),
    ListColumn("変更前積立額", 24, "right", amount),
    ListColumn("変更後積立額", 24, "right", amount),
]


def _header(context: OutputContext, title: str, run: ZaikeiRun) -> ListHeader:
    return group_header(context, f"{title}　{run.document_name}", basis_date=run.basis_date)


def _details(context: OutputContext, run: ZaikeiRun) -> Iterator[ZaikeiDetail]:
    order = (ZaikeiDetail.employee_no, ZaikeiDetail.savings_kind)
    return streamed(context.dbsession, records.details(context, run).order_by(*order))


def _changes(context: OutputContext, run: ZaikeiRun) -> Iterator[ZaikeiChange]:
    order = (ZaikeiChange.employee_no, ZaikeiChange.savings_kind)
    return streamed(context.dbsession, records.changes(context, run).order_by(*order))


def _person(line: ZaikeiDetail | ZaikeiChange) -> list[Any]:
    return [line.employee_no, line.name_kana, line.name_kanji, line.savings_kind]


def details_pdf(context: OutputContext) -> IO[bytes]:
    """財形積立明細書 (PDF): the run's savings by employee number, totals at the end."""
    run = records.RUNS.for_output(context)
    count, monthly, summer, winter, balance = records.detail_totals(context.dbsession, context, run)
    rows = (
        [n, *_person(d), d.amount_monthly, d.amount_summer, d.amount_winter, d.balance]
        for n, d in enumerate(_details(context, run), 1)
    )
    totals = [
        ("合計件数", f"{count:,}件"),
        ("月例積立額合計", f"{monthly:,}円"),
        ("夏季一時金積立額合計", f"{summer:,}円"),
        ("年末一時金積立額合計", f"{winter:,}円"),
        ("残高合計", f"{balance:,}円"),
    ]
    header = _header(context, DETAILS_TITLE, run)
    return list_pdf(header, DETAIL_COLUMNS, rows, row_count=count, totals=totals)


def changes_pdf(context: OutputContext) -> IO[bytes]:
    """財形積立変更明細書（預入依頼書のみ） (PDF): the run's changes, totals at the end."""
    run = records.RUNS.for_output(context)
    count, before, after = records.change_totals(context.dbsession, context, run)
    rows = (
        [n, *_person(c), c.change_kind, c.amount_before, c.amount_after]
        for n, c in enumerate(_changes(context, run), 1)
    )
    totals = [
        ("合計件数", f"{count:,}件"),
        ("変更前積立額合計", f"{before:,}円"),
        ("変更後積立額合計", f"{after:,}円"),
    ]
    header = _header(context, CHANGES_TITLE, run)
    return list_pdf(header, CHANGE_COLUMNS, rows, row_count=count, totals=totals)


def details_csv(context: OutputContext) -> CsvTable:
    """財形積立明細 (CSV)."""
    run = records.RUNS.for_output(context)
    prefix = [run.document_name, f"{run.basis_date:%Y%m%d}"]
    rows = (
        [*prefix, *_person(d), d.amount_monthly, d.amount_summer, d.amount_winter, d.balance]
        for d in _details(context, run)
    )
    return CsvTable(DETAILS_HEADER, rows)


def changes_csv(context: OutputContext) -> CsvTable:
    """財形積立変更明細 (CSV)."""
    run = records.RUNS.for_output(context)
    prefix = [run.document_name, f"{run.basis_date:%Y%m%d}"]
    rows = (
        [*prefix, *_person(c), c.change_kind, c.amount_before, c.amount_after]
        for c in _changes(context, run)
    )
    return CsvTable(CHANGES_HEADER, rows)


OUTPUTS = [
    Output("details-pdf", DETAILS_TITLE, "pdf", details_pdf),
    Output("changes-pdf", "財形積立変更明細書", "pdf", changes_pdf),
    Output("details-csv", "財形積立明細データ", "csv", details_csv),
    Output("changes-csv", "財形積立変更明細データ", "csv", changes_csv),
]
