"""The notes list as a PDF and as a CSV, through the core's engines (``core.outputs``)."""

from __future__ import annotations

from cjs_example_module import notes
from core.hookspecs import CsvTable, Output, OutputContext
from core.outputs.pdf import PdfDocument, mm

HEADER = ["登録日時", "件名", "金額", "登録者"]


def _rows(context: OutputContext) -> list[list[str | int]]:
    return [
        [
            note.created_at.astimezone(context.now.tzinfo).strftime("%Y/%m/%d %H:%M"),
            note.title,
            note.amount,
            note.created_by,
        ]
        for note in notes.notes_of(context.dbsession, context.deposit_group)
    ]


def notes_pdf(context: OutputContext) -> bytes:
    """連絡メモ一覧 (PDF): the selected group's notes, newest first."""
    group = context.deposit_group
    document = PdfDocument(
        "連絡メモ一覧", subject="連絡メモ事務", header=group.name_kanji, printed_at=context.now
    )
    document.heading("連絡メモ一覧")
    document.text(f"入金グループ {group.group_no} {group.name_kanji}")
    document.table(
        HEADER, _rows(context), col_widths=[35 * mm, 80 * mm, 25 * mm, 30 * mm], align_right=[2]
    )
    return document.build()


def notes_csv(context: OutputContext) -> CsvTable:
    """連絡メモ一覧 (CSV): the same rows."""
    return CsvTable(HEADER, _rows(context))


OUTPUTS = [
    Output("list-pdf", "連絡メモ一覧", "pdf", notes_pdf),
    Output("list-csv", "連絡メモ一覧", "csv", notes_csv),
]
