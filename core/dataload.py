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
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jaconv

from core.hookspecs import RowError
from core.rules import HALF_WIDTH_KANA_CHARACTERS, is_full_width
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
    lines, values, errors = read_columns(data, columns)
    return list(zip(lines, map(list, zip(*values, strict=True)), strict=True)), errors


def read_columns(
    data: bytes, columns: Sequence[Column]
) -> tuple[list[int], list[list[Any]], list[RowError]]:
    """:func:`read_rows` a column at a time, for a loader of 100,000 lines: the line numbers of the
    good rows, the parsed values of each column (those rows only) and the errors. The per-cell
    work runs in C wherever a parser allows it (:func:`_parse_column`)."""
    try:
        text = decode_cp932(data)
    except CellError as exc:
        return [], [], [RowError(1, str(exc))]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column.name for column in columns]
    if [cell.strip() for cell in next(reader, [])] != header:
        return [], [], [RowError(1, f"1行目は見出し行「{','.join(header)}」にしてください。")]
    width = len(columns)
    records = list(reader)
    if reader.line_num == len(records) + 1:  # one line a record (no line break inside a cell)
        lines: Sequence[int] = range(2, len(records) + 2)
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader)
        lines = [reader.line_num for _ in reader]
    errors: list[tuple[int, int, RowError]] = []
    # A line whose cells are all empty is skipped; a line of another width is refused.
    if set(map(len, records)) != {width} or not all(map(operator.itemgetter(0), records)):
        good = [(n, r) for n, r in zip(lines, records, strict=True) if any(r)]
        errors += [
            (n, -1, RowError(n, f"項目数が{width}ではありません（{len(r)}項目）。"))
            for n, r in good
            if len(r) != width
        ]
        good = [(n, r) for n, r in good if len(r) == width]
        lines, records = [n for n, _ in good], [r for _, r in good]
    refused: set[int] = set()
    parsed: list[list[Any]] = []
    cells_by_column = list(zip(*records, strict=True)) if records else [()] * width
    for index, (column, cells) in enumerate(zip(columns, cells_by_column, strict=True)):
        values, failures = _parse_column(column.parse, cells)
        parsed.append(values)
        for row, message in failures:
            refused.add(row)
            errors.append(
                (lines[row], index, RowError(lines[row], message, column.name, cells[row]))
            )
    report = [error for _, _, error in sorted(errors, key=lambda e: (e[0], e[1]))]
    if refused:  # the file is refused: the good rows still go to the loader's own checks
        kept = [row for row in range(len(lines)) if row not in refused]
        lines = [lines[row] for row in kept]
        parsed = [[values[row] for row in kept] for values in parsed]
    return list(lines), parsed, report


def _parse_column(
    parse: Callable[[str], Any], cells: Sequence[str]
) -> tuple[list[Any], list[tuple[int, str]]]:
    """The parsed cells of a column, and (row, message) of each refused one.

    A :class:`PatternParser` checks the whole column with one regular expression; any other parser
    is called once per distinct value (a file repeats its contract, group, round and dates on every
    line)."""
    if isinstance(parse, PatternParser) and all(map(parse.pattern.fullmatch, cells)):
        return (list(map(parse.convert, cells)) if parse.convert else list(cells)), []
    distinct: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for value in set(cells):
        try:
            distinct[value] = parse(value)
        except CellError as exc:
            refused[value] = str(exc)
    if not refused:
        return list(map(distinct.__getitem__, cells)), []
    values = [distinct.get(cell) for cell in cells]
    failures = [(row, refused[cell]) for row, cell in enumerate(cells) if cell in refused]
    return values, failures


class PatternParser:
    """A parser whose good cells are exactly those ``pattern`` matches in full (then converted by
    ``convert``, when given): :func:`read_rows` checks a whole column of them in one pass."""

    def __init__(
        self, pattern: str, message: str, convert: Callable[[str], Any] | None = None
    ) -> None:
        self.pattern = re.compile(pattern)
        self.message = message
        self.convert = convert

    def __call__(self, value: str) -> Any:
        if not self.pattern.fullmatch(value):
            raise CellError(self.message)
        return self.convert(value) if self.convert else value


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
    message = f"半角数字{length}桁" if length else f"半角数字{high}桁以内"
    return PatternParser(rf"[0-9]{{{low},{high}}}", f"{message}で指定してください。")


def half_width_kana(max_length: int) -> Callable[[str], str]:
    """A kana name in half-width katakana (ｶﾅ; space, digits and a few symbols allowed)."""
    return PatternParser(
        rf"{HALF_WIDTH_KANA_CHARACTERS}{{1,{max_length}}}",
        f"半角カナ{max_length}文字以内で指定してください。",
    )


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
    return PatternParser(
        rf"[0-9]{{1,{max_digits}}}",
        f"金額は半角数字{max_digits}桁以内（円）で指定してください。",
        int,
    )


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


# -- the columns every batch module's files open with (core.batches) ------------------------------

#: The columns that open every file of a module's batches: the deposit group.
GROUP_COLUMNS = (Column("契約番号", digits(8)), Column("入金グループ", digits(8)))
#: The columns that open a line per employee, and the attributes they fill.
EMPLOYEE_COLUMNS = (
    Column("職員番号", digits(max_length=10)),
    Column("カナ氏名", half_width_kana(30)),
    Column("漢字氏名", full_width(20)),
)
EMPLOYEE_NAMES = ("employee_no", "name_kana", "name_kanji")
