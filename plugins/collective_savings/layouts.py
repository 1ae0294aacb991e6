"""The layouts of 一斉積立's CSV exports: the bank's file layout, so the header is Japanese whatever
the language of the screen they are downloaded from (SPEC 8: the customers' payroll systems read
these columns by name). These are plain strings, never ``core.i18n._`` messages."""

from __future__ import annotations

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
