"""core.dataload: the rules every bank data file is read with (#13 item 5, BANK-6)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.dataload import (
    CellError,
    Column,
    amount,
    choice,
    decode_cp932,
    digits,
    full_width,
    half_width_kana,
    optional,
    read_rows,
    search_kana,
    text,
    yyyymm,
    yyyymmdd,
    yyyymmddhhmm,
)
from core.hookspecs import RowError
from core.timefmt import JST

COLUMNS = (Column("職員番号", digits(max_length=10)), Column("カナ氏名", half_width_kana(10)))


def test_rows_are_typed_and_every_bad_cell_named():
    data = "職員番号,カナ氏名\r\n001,ﾛｳｷﾝ\r\n\r\n002,ろうきん\r\nabc,ﾀﾛｳ\r\n003\r\n".encode("cp932")
    rows, errors = read_rows(data, COLUMNS)
    assert rows == [(2, ["001", "ﾛｳｷﾝ"])]
    assert errors == [
        RowError(4, "半角カナ10文字以内で指定してください。", "カナ氏名", "ろうきん"),
        RowError(5, "半角数字10桁以内で指定してください。", "職員番号", "abc"),
        RowError(6, "項目数が2ではありません（1項目）。"),
    ]


def test_a_file_of_another_kind_is_refused_at_its_header():
    rows, errors = read_rows("001,ﾛｳｷﾝ\r\n".encode("cp932"), COLUMNS)
    assert rows == []
    assert errors == [RowError(1, "1行目は見出し行「職員番号,カナ氏名」にしてください。")]


def test_a_file_not_in_cp932_names_the_line_of_the_first_bad_byte():
    with pytest.raises(CellError, match="2行目に Shift_JIS（cp932）でない文字があります"):
        decode_cp932(b"001,\xb6\xc5\r\n002,\x85\x40\r\n")
    rows, errors = read_rows("a,b\r\n".encode("utf-16"), COLUMNS)
    assert rows == [] and errors[0].line == 1


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (digits(3), "014", "14"),
        (half_width_kana(5), "ﾀﾛｳ ｱ", "タロウ"),
        (full_width(5), "労金　太郎", "労金 太郎"),  # an ASCII space is half-width
        (amount(5), "12345", "-1"),
        (amount(5), "0", "123456"),
        (text(4), "特別積立", "特別積立金"),
        (choice({"0": False, "1": True}), "1", "2"),
    ],
)
def test_cell_rules(parse, good, bad):
    parse(good)
    with pytest.raises(CellError):
        parse(bad)


def test_dates_are_yyyymmdd_and_real():
    assert yyyymmdd("20261014") == dt.date(2026, 10, 14)
    for bad in ("2026-10-14", "20261332", "2026101", "２０２６１０１４"):
        with pytest.raises(CellError, match="YYYYMMDD"):
            yyyymmdd(bad)


def test_months_and_japan_times_and_optional_cells():
    """The core's お知らせ and スケジュール files (#13): 控除年月 YYYYMM, 掲載開始 YYYYMMDDHHMM (Japan
    time), and cells that may be empty."""
    assert yyyymm("202612") == dt.date(2026, 12, 1)
    assert yyyymmddhhmm("202611011700") == dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    assert yyyymmddhhmm("202611011700").tzinfo == JST
    for bad in ("202613", "2026-1", "20261"):
        with pytest.raises(CellError, match="YYYYMM"):
            yyyymm(bad)
    for bad in ("202611012460", "20261101170", "2026110117:0"):
        with pytest.raises(CellError, match="YYYYMMDDHHMM"):
            yyyymmddhhmm(bad)
    assert optional(yyyymmdd)("") is None
    assert optional(yyyymmdd)("20261014") == dt.date(2026, 10, 14)


def test_kana_typed_any_way_searches_the_stored_half_width_kana():
    assert search_kana("たかはし") == search_kana("タカハシ") == search_kana("ﾀｶﾊｼ") == "ﾀｶﾊｼ"
    assert search_kana(" ワタナベ ") == "ﾜﾀﾅﾍﾞ"
