"""The shared CSV writer (SPEC 6 exports; 操作ログ照会 of SPEC section 2): cp932 by default, UTF-8 with
a BOM on request, every cell quoted, formula injection guarded, RFC 6266 file names."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from urllib.parse import unquote

import pytest

from core.outputs import csvexport

ROWS = [
    ("2026/04/01 09:00:00", "master01", "ログイン", "労金　太郎", "成功"),
    ("2026/04/01 09:05:00", "user0001", "パスワード変更", "①～⑩ ㈱ 髙橋", "失敗"),
]
HEADER = ("日時", "ユーザーID", "操作", "対象", "結果")


def parse(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def test_cp932_is_the_default_and_round_trips_japanese_text():
    """SPEC 6: cp932 by default for Excel in Japan; NEC/IBM extensions (①, ㈱, 髙) included."""
    data = csvexport.csv_bytes(HEADER, ROWS)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert parse(data, "cp932") == [list(HEADER), *map(list, ROWS)]
    assert "ログイン".encode("cp932") in data


def test_utf8_has_a_bom():
    """SPEC 6: UTF-8 with BOM selectable (Excel reads the BOM)."""
    data = csvexport.csv_bytes(HEADER, ROWS, "utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert parse(data, "utf-8-sig") == [list(HEADER), *map(list, ROWS)]


def test_every_cell_is_quoted_and_lines_end_with_crlf():
    data = csvexport.csv_bytes(("a", "b"), [("x", 1), ('y,"z"', None)], "utf-8")
    assert data.decode("utf-8-sig") == '"a","b"\r\n"x","1"\r\n"y,""z""",""\r\n'


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+81-3-0000-0000",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=cmd",
        "\r=cmd",
        '=HYPERLINK("http://evil.example/","click")',
        "=cmd|' /C calc'!A0",
    ],
)
def test_text_that_excel_would_run_is_prefixed_with_a_quote(value):
    """OWASP CSV injection: = + - @ tab CR at the start of a text cell."""
    data = csvexport.csv_bytes(None, [(value,)])
    assert parse(data, "cp932") == [["'" + value]]


def test_numbers_and_harmless_text_are_left_alone():
    assert csvexport.safe_cell(-1200) == "-1200"
    assert csvexport.safe_cell(Decimal("-3.50")) == "-3.50"
    assert csvexport.safe_cell(None) == ""
    assert csvexport.safe_cell("a=b") == "a=b"
    assert csvexport.safe_cell("＝全角") == "＝全角"
    assert csvexport.safe_cell(" =x") == " =x"


def test_cp932_folds_the_jis_mapping_differences_and_never_replaces_the_rest():
    """〜 (U+301C) and − (U+2212), typed on Mac or Linux, become cp932's ～ and －; a character
    outside cp932 is reported with its row and column, never replaced (#13 item 6); UTF-8 keeps it."""
    data = csvexport.csv_bytes(None, [("10時〜12時", "−5")])
    assert parse(data, "cp932") == [["10時～12時", "－5"]]
    with pytest.raises(csvexport.UnencodableCharacter) as refused:
        csvexport.csv_bytes(("時間", "店名"), [("9時", "松屋"), ("12時", "𠮷野家")])
    assert (refused.value.row, refused.value.column, refused.value.character) == (2, "店名", "𠮷")
    assert "2件目の「店名」" in refused.value.message
    with pytest.raises(csvexport.UnencodableCharacter, match="row 1, 2列目"):
        csvexport.csv_bytes(None, [("x", "🍚")])
    utf8 = csvexport.csv_bytes(None, [("𠮷野家🍚",)], "utf-8")
    assert parse(utf8, "utf-8-sig") == [["𠮷野家🍚"]]


def test_encoding_names_and_unknown_ones():
    assert csvexport.normalise_encoding(None) == "cp932"
    assert csvexport.normalise_encoding("") == "cp932"
    assert csvexport.normalise_encoding("UTF-8") == "utf-8"
    assert csvexport.normalise_encoding("Shift_JIS") == "cp932"
    with pytest.raises(csvexport.UnknownEncodingError):
        csvexport.normalise_encoding("latin-1")
    assert csvexport.content_type() == "text/csv; charset=Windows-31J"
    assert csvexport.content_type("utf-8") == "text/csv; charset=UTF-8"


def test_content_disposition_has_a_japanese_name_and_an_ascii_fallback():
    """RFC 6266 / RFC 8187: filename*=UTF-8''<percent-encoded>, plus filename= in ASCII."""
    header = csvexport.content_disposition("操作ログ_20260401.csv", fallback_stem="oplog_20260401")
    assert header.startswith("attachment; filename=\"oplog_20260401.csv\"; filename*=UTF-8''")
    assert unquote(header.split("UTF-8''")[1]) == "操作ログ_20260401.csv"
    assert header.isascii()
    inline = csvexport.content_disposition("manual.pdf", "inline")
    assert inline == "inline; filename=\"manual.pdf\"; filename*=UTF-8''manual.pdf"


def test_content_disposition_cannot_be_broken_by_the_name():
    header = csvexport.content_disposition('a"b\r\nSet-Cookie: x=1;.pdf', fallback_stem="f")
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="f.pdf"; ')
    assert header.count('"') == 2
    with pytest.raises(ValueError):
        csvexport.content_disposition("x.csv", "form-data")


def test_csv_response_headers():
    response = csvexport.csv_response(
        csvexport.dated_filename("操作ログ", dt.datetime(2026, 4, 1, 9, 0)),
        HEADER,
        ROWS,
        encoding="utf-8",
        fallback_stem="oplog_20260401",
    )
    assert response.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert (
        "filename*=UTF-8''%E6%93%8D%E4%BD%9C%E3%83%AD%E3%82%B0_20260401.csv"
        in (response.headers["Content-Disposition"])
    )
    assert response.body.startswith(b"\xef\xbb\xbf")


def test_a_modules_export_reports_a_character_cp932_cannot_hold():
    """#13 item 6: never silently replaced; the row and the column are named."""
    import io

    from core.outputs.csvexport import UnencodableCharacter, write_csv_strict

    out = io.BytesIO()
    write_csv_strict(out, ["氏名", "金額"], [["労金〜太郎", 1], ["=SUM(A1)", -2]])
    assert out.getvalue().decode("cp932") == (
        '"氏名","金額"\r\n"労金～太郎","1"\r\n"\'=SUM(A1)","-2"\r\n'
    )
    with pytest.raises(UnencodableCharacter) as refused:
        write_csv_strict(io.BytesIO(), ["氏名", "金額"], [["労金", 1], ["𠮷田", 2]])
    assert (refused.value.row, refused.value.column, refused.value.character) == (2, "氏名", "𠮷")
    assert "2件目の「氏名」" in refused.value.message
    utf8 = io.BytesIO()
    write_csv_strict(utf8, ["氏名"], [["𠮷田"]], "utf-8")
    assert utf8.getvalue() == '\ufeff"氏名"\r\n"𠮷田"\r\n'.encode()
