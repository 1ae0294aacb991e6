"""The layouts of 財形's CSV exports: the bank's file layout, so the header is Japanese whatever the
language of the screen they are downloaded from (SPEC 8: the customers' payroll systems read these
columns by name). These are plain strings, never ``core.i18n._`` messages."""

from __future__ import annotations

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
