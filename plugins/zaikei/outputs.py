"""財形積立明細書 and 財形積立変更明細書（預入依頼書のみ） as A4 PDF lists (streamed, the bank's page
header, totals at the end) and both as CSV, for the run of ``?run=`` (the newest by default).

A PDF is written in the language of the screen it is downloaded from (its headings are messages);
a CSV stays Japanese, header included: it is the bank's file layout (``layouts``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from core.batches import CHANGE_KINDS, label_of
from core.hookspecs import CsvTable, Output, OutputContext
from core.i18n import _
from core.outputs.pdfstream import (
    ListColumn,
    ListHeader,
    amount,
    count_total,
    group_header,
    list_pdf,
    yen_total,
)
from core.outputs.rows import streamed
from plugins.zaikei import records
from plugins.zaikei.layouts import CHANGES_HEADER, DETAILS_HEADER
from plugins.zaikei.models import SAVINGS_KINDS, ZaikeiChange, ZaikeiDetail, ZaikeiRun

DETAILS_TITLE = _("財形積立明細書")
CHANGES_TITLE = _("財形積立変更明細書（預入依頼書のみ）")

# The PDF headings: messages, written in the language of the download.
PERSON_COLUMNS = [
    ListColumn("No", 10, "right"),
    ListColumn(_("職員番号"), 20),
    ListColumn(_("カナ氏名"), 34),
    ListColumn(_("漢字氏名"), 28),
    ListColumn(_("種類"), 10, "center", lambda kind: label_of(SAVINGS_KINDS, kind)),
]
DETAIL_COLUMNS = [
    *PERSON_COLUMNS,
    ListColumn(_("月例"), 20, "right", amount),
    ListColumn(_("夏季一時金"), 20, "right", amount),
    ListColumn(_("年末一時金"), 20, "right", amount),
    ListColumn(_("残高"), 24, "right", amount),
]
CHANGE_COLUMNS = [
    *PERSON_COLUMNS,
    ListColumn(_("変更区分"), 16, "center", lambda kind: label_of(CHANGE_KINDS, kind)),
    ListColumn(_("変更前積立額"), 24, "right", amount),
    ListColumn(_("変更後積立額"), 24, "right", amount),
]


def _header(context: OutputContext, title: str, run: ZaikeiRun) -> ListHeader:
    heading = _("${title}　${batch}", title=title, batch=run.document_name)
    return group_header(context, heading, basis_date=run.basis_date)


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
        (_("合計件数"), count_total(count)),
        (_("月例積立額合計"), yen_total(monthly)),
        (_("夏季一時金積立額合計"), yen_total(summer)),
        (_("年末一時金積立額合計"), yen_total(winter)),
        (_("残高合計"), yen_total(balance)),
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
        (_("合計件数"), count_total(count)),
        (_("変更前積立額合計"), yen_total(before)),
        (_("変更後積立額合計"), yen_total(after)),
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
    Output("changes-pdf", _("財形積立変更明細書"), "pdf", changes_pdf),
    Output("details-csv", _("財形積立明細データ"), "csv", details_csv),
    Output("changes-csv", _("財形積立変更明細データ"), "csv", changes_csv),
]
