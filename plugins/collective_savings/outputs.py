"""一斉積立内訳明細表 and 一斉積立変更明細表 as A4 PDF lists (streamed, the bank's page header, totals
at the end) and as CSV (cp932, or UTF-8 with ``?encoding=utf-8``), for the round of ``?round=``.

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
from plugins.collective_savings import savings
from plugins.collective_savings.layouts import CHANGES_HEADER, DETAILS_HEADER
from plugins.collective_savings.models import SavingsChange, SavingsDetail, SavingsRound

DETAILS_TITLE = _("一斉積立内訳明細表")
CHANGES_TITLE = _("一斉積立変更明細表")

# The PDF headings: messages, written in the language of the download.
PERSON_COLUMNS = [
    ListColumn("No", 12, "right"),
    ListColumn(_("職員番号"), 22),
    ListColumn(_("カナ氏名"), 42),
    ListColumn(_("漢字氏名"), 34),
    ListColumn(_("店番"), 10, "center"),
    ListColumn(_("口座番号"), 16, "center"),
]
DETAIL_COLUMNS = [*PERSON_COLUMNS, ListColumn(_("積立金額"), 24, "right", amount)]
CHANGE_COLUMNS = [
    *PERSON_COLUMNS[:4],
    ListColumn(_("変更区分"), 14, "center", lambda kind: label_of(CHANGE_KINDS, kind)),
    ListColumn(_("変更前金額"), 22, "right", amount),
    ListColumn(_("変更後金額"), 22, "right", amount),
]


def _header(context: OutputContext, title: str, chosen: SavingsRound) -> ListHeader:
    heading = _("${title}　${batch}", title=title, batch=savings.ROUNDS.describe(chosen))
    return group_header(context, heading, basis_date=chosen.created_on)


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
        totals=[(_("合計件数"), count_total(count)), (_("合計積立金額"), yen_total(total))],
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
            (_("合計件数"), count_total(count)),
            (_("変更前積立金額合計"), yen_total(before)),
            (_("変更後積立金額合計"), yen_total(after)),
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
    Output("details-csv", _("一斉積立内訳明細データ"), "csv", details_csv),
    Output("changes-csv", _("一斉積立変更明細データ"), "csv", changes_csv),
]
