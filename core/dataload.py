"""Reading the bank's data files (BANK-6, #13 item 5): one set of rules every module's loader uses.

The bank's systems write CSV in cp932 (Shift_JIS with Microsoft's extensions), kana names in
half-width katakana, dates as ``YYYYMMDD`` and amounts as whole yen. A loader declares its columns
(:class:`Column`, each with a Japanese name and a parser from here) and calls :func:`read_rows`,
which returns the typed rows and a :class:`core.hookspecs.RowError` for every bad cell, naming the
line, the column and the value, in Japanese. The file formats are in docs/data-formats.md.

Parsers raise :class:`CellError` with the message; a loader may write its own the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jaconv

from core.hookspecs import RowError
from core.rules import is_full_width, is_half_width_kana_text
from core.timefmt import JST

ENCODING = "cp932"


class CellError(ValueError):
    """A cell's value is refused; the message is Japanese and says what is expected."""


@dataclass(frozen=True)
class Column:
    """A column of a bank data file: its Japanese name and the parser of its cells."""

    name: str
    parse: Callable[[str], Any]


def decode_cp932(data: bytes) -> str:
    """The file's text; CellError naming the line of the first byte that is not cp932."""
    try:
        return data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CellError(
            f"{line}行目に Shift_JIS（cp932）でない文字があります。"
            "ファイルは cp932 で作成してください。"
        ) from None


def read_rows(
    data: bytes, columns: Sequence[Column]
) -> tuple[list[tuple[int, list[Any]]], list[RowError]]:
    """Every record of a cp932 CSV file parsed by ``columns``: (line, values) of the good rows and
    an error for each bad cell (a row of the wrong length is one error). The first line must be the
    header, the columns' names in order (a file of another kind is refused at line 1); empty lines
    are skipped."""
    try:
        text = decode_cp932(data)
    except CellError as exc:
        return [], [RowError(1, str(exc))]
    rows: list[tuple[int, list[Any]]] = []
    errors: list[RowError] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    width = len(columns)
    parsers = [(column.name, column.parse) for column in columns]
    header = [column.name for column in columns]
    if [cell.strip() for cell in next(reader, [])] != header:
        return [], [RowError(1, f"1行目は見出し行「{','.join(header)}」にしてください。")]
    for record in reader:
        line = reader.line_num
        if not any(record):
            continue
        if len(record) != width:
            errors.append(RowError(line, f"項目数が{width}ではありません（{len(record)}項目）。"))
            continue
        values: list[Any] = []
        good = True
        for (name, parse), cell in zip(parsers, record, strict=True):
            try:
                values.append(parse(cell))
            except CellError as exc:
                errors.append(RowError(line, str(exc), name, cell))
                good = False
        if good:
            rows.append((line, values))
    return rows, errors


def write_file(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> bytes:
    """A bank data file as the bank writes it: the header of ``columns``, then ``rows``, in cp932
    with CRLF line ends (the demo's generated files, tests)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in columns])
    writer.writerows(rows)
    return buffer.getvalue().encode(ENCODING)


# -- cell parsers --------------------------------------------------------------------------------


def digits(length: int | None = None, *, max_length: int | None = None) -> Callable[[str], str]:
    """Half-width digits, exactly ``length`` or 1 to ``max_length`` of them (kept as text)."""
    low, high = (length, length) if length else (1, max_length or 20)
    pattern = re.compile(rf"^[0-9]{{{low},{high}}}$")
    message = f"半角数字{length}桁" if length else f"半角数字{high}桁以内"

    def parse(value: str) -> str:
        if not pattern.match(value):
            raise CellError(f"{message}で指定してください。")
        return value

    return parse


def half_width_kana(max_length: int) -> Callable[[str], str]:
    """A kana name in half-width katakana (ｶﾅ; space, digits and a few symbols allowed)."""

    def parse(value: str) -> str:
        if not value or len(value) > max_length or not is_half_width_kana_text(value):
            raise CellError(f"半角カナ{max_length}文字以内で指定してください。")
        return value

    return parse


def full_width(max_length: int, *, required: bool = True) -> Callable[[str], str]:
    """A name in full-width characters (漢字, かな, 全角英数; East Asian Width F or W)."""

    def parse(value: str) -> str:
        if not value and not required:
            return value
        if not value or len(value) > max_length or not is_full_width(value):
            raise CellError(f"全角{max_length}文字以内で指定してください。")
        return value

    return parse


def yyyymmdd(value: str) -> dt.date:
    """A date written ``YYYYMMDD``."""
    try:
        if len(value) != 8 or not (value.isascii() and value.isdigit()):
            raise ValueError
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise CellError("日付は YYYYMMDD（半角数字8桁）の正しい日付で指定してください。") from None


def yyyymm(value: str) -> dt.date:
    """A month written ``YYYYMM``, as the first day of that month."""
    if (
        len(value) != 6
        or not (value.isascii() and value.isdigit())
        or not 1 <= int(value[4:]) <= 12
    ):
        raise CellError("年月は YYYYMM（半角数字6桁）の正しい年月で指定してください。")
    return dt.date(int(value[:4]), int(value[4:]), 1)


def yyyymmddhhmm(value: str) -> dt.datetime:
    """A time written ``YYYYMMDDHHMM`` in Japan time, as an aware datetime."""
    try:
        if len(value) != 12 or not (value.isascii() and value.isdigit()):
            raise ValueError
        return dt.datetime.strptime(value, "%Y%m%d%H%M").replace(tzinfo=JST)
    except ValueError:
        raise CellError(
            "日時は YYYYMMDDHHMM（半角数字12桁、日本時間）の正しい日時で指定してください。"
        ) from None


def optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` for a cell that may be empty (None)."""

    def parse_optional(value: str) -> Any:
        return parse(value) if value else None

    return parse_optional


def amount(max_digits: int = 9) -> Callable[[str], int]:
    """An amount in whole yen: half-width digits, no sign, no separators, at most ``max_digits``."""
    pattern = re.compile(rf"^[0-9]{{1,{max_digits}}}$")

    def parse(value: str) -> int:
        if not pattern.match(value):
            raise CellError(f"金額は半角数字{max_digits}桁以内（円）で指定してください。")
        return int(value)

    return parse


def choice(choices: dict[str, Any]) -> Callable[[str], Any]:
    """One of the codes of ``choices`` (code → value stored)."""
    names = "、".join(choices)

    def parse(value: str) -> Any:
        if value not in choices:
            raise CellError(f"{names} のいずれかで指定してください。")
        return choices[value]

    return parse


def search_kana(value: str) -> str:
    """A kana name typed in a search box (ひらがな, 全角カタカナ or ﾊﾝｶｸ) as the files store it:
    half-width katakana, for comparing with the loaded names."""
    return jaconv.z2h(jaconv.hira2kata(value.strip()), kana=True, digit=True, ascii=True)


def text(max_length: int) -> Callable[[str], str]:
    """A name or title: 1 to ``max_length`` characters, no control characters."""

    def parse(value: str) -> str:
        if not value or len(value) > max_length or not value.isprintable():
            raise CellError(f"{max_length}文字以内で指定してください。")
        return value

    return parse
