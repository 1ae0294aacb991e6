"""CSV exports for Excel in Japan: cp932 by default, UTF-8 with BOM on request (SPEC 6).

Every export of the service goes through here, so all of them:

- quote every cell and end lines with CRLF (what Excel writes and reads);
- guard against CSV formula injection (OWASP): a *text* cell starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return gets a leading ``'`` so that Excel shows it as text instead of running
  it. Numbers (int, Decimal, float) are written as they are, so negative amounts stay numbers;
- in cp932, first map the characters that Unicode-to-JIS converters disagree on to the ones cp932
  has (〜 U+301C → ～ U+FF5E, − U+2212 → － U+FF0D, ‖ → ∥, — → ―, ¢ £ ¬ → ￠ ￡ ￢); a character
  cp932 still cannot hold is never replaced: :class:`UnencodableCharacter` names its row and column,
  and the user is told so and offered UTF-8 (#13 item 6);
- are served with ``Content-Type: text/csv; charset=Windows-31J`` (the IANA name of cp932) or
  ``charset=UTF-8``, as an attachment whose file name may be Japanese (RFC 6266 ``filename*``, with
  an ASCII ``filename`` for old clients).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO, Any
from urllib.parse import quote

from pyramid.response import Response

#: ``?encoding=`` values: the default cp932 and UTF-8 (written with a BOM so Excel detects it).
ENCODINGS: dict[str, tuple[str, str]] = {
    # name: (Python codec, charset label of the Content-Type)
    "cp932": ("cp932", "Windows-31J"),
    "utf-8": ("utf-8-sig", "UTF-8"),
}
DEFAULT_ENCODING = "cp932"
#: Aliases accepted for ``?encoding=`` (case-insensitive).
ENCODING_ALIASES = {
    "cp932": "cp932",
    "sjis": "cp932",
    "shift_jis": "cp932",
    "windows-31j": "cp932",
    "utf-8": "utf-8",
    "utf8": "utf-8",
}

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: Characters the JIS mappings disagree on, folded to cp932's choice before encoding.
CP932_FOLD = str.maketrans(
    {
        "\u301c": "\uff5e",  # WAVE DASH → FULLWIDTH TILDE
        "\u2212": "\uff0d",  # MINUS SIGN → FULLWIDTH HYPHEN-MINUS
        "\u2016": "\u2225",  # DOUBLE VERTICAL LINE → PARALLEL TO
        "\u2014": "\u2015",  # EM DASH → HORIZONTAL BAR
        "\u00a2": "\uffe0",  # CENT SIGN → FULLWIDTH CENT SIGN
        "\u00a3": "\uffe1",  # POUND SIGN → FULLWIDTH POUND SIGN
        "\u00ac": "\uffe2",  # NOT SIGN → FULLWIDTH NOT SIGN
    }
)


class UnknownEncodingError(ValueError):
    """An ``encoding`` the exports do not offer."""


def normalise_encoding(value: str | None) -> str:
    """The export encoding named by ``value`` (``None`` or empty: cp932); raises UnknownEncodingError."""
    if not value:
        return DEFAULT_ENCODING
    name = ENCODING_ALIASES.get(value.strip().lower())
    if name is None:
        raise UnknownEncodingError(f"unknown CSV encoding {value!r}: use cp932 or utf-8")
    return name


def safe_cell(value: Any) -> str:
    """A cell's text: numbers as they are, None as empty, text guarded against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal | float):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_bytes(
    header: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    encoding: str = DEFAULT_ENCODING,
) -> bytes:
    """The CSV file's bytes in ``encoding`` (cp932 by default; ``utf-8`` gives UTF-8 with a BOM).

    Raises :class:`UnencodableCharacter` for a character cp932 cannot hold."""
    out = io.BytesIO()
    write_csv_strict(out, header, rows, encoding)
    return out.getvalue()


class UnencodableCharacter(ValueError):
    """A cell holds a character the export encoding (cp932) cannot hold: the data row (1 = the
    first row after the header), the column's heading and the character."""

    def __init__(self, row: int, column: str, character: str) -> None:
        super().__init__(f"row {row}, {column}: U+{ord(character):04X} is not in cp932")
        self.row = row
        self.column = column
        self.character = character

    @property
    def message(self) -> str:
        """What the user is told (Japanese)."""
        return (
            f"{self.row}件目の「{self.column}」に、Shift_JIS（cp932）で出力できない文字"
            f"「{self.character}」（U+{ord(self.character):04X}）があります。"
            "UTF-8 で出力するか、ろうきんにお問い合わせください。"
        )


def write_csv_strict(
    out: IO[bytes],
    header: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    encoding: str = DEFAULT_ENCODING,
) -> None:
    """Write the CSV to ``out`` row by row: every cell quoted, CRLF line ends, cells guarded (see
    :func:`safe_cell`), the header first unless None. In cp932, a character it cannot hold (after
    the usual folding) raises :class:`UnencodableCharacter` naming the row and the column: an
    export is never silently changed."""
    name = normalise_encoding(encoding)
    codec = ENCODINGS[name][0]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    fold = CP932_FOLD if name == "cp932" else {}
    lines = itertools.chain([header], rows) if header is not None else rows
    for number, row in enumerate(lines, start=0 if header is not None else 1):
        buffer.seek(0)
        buffer.truncate()
        cells = [safe_cell(value) for value in row]
        writer.writerow(cells)
        text = buffer.getvalue().translate(fold)
        try:
            out.write(text.encode(codec))
        except UnicodeEncodeError:
            names = header if header is not None else [f"{n}列目" for n in range(1, len(cells) + 1)]
            for column, cell in zip(names, cells, strict=False):
                for character in cell.translate(fold):
                    try:
                        character.encode(codec)
                    except UnicodeEncodeError:
                        raise UnencodableCharacter(number, str(column), character) from None
            raise
        if codec == "utf-8-sig":
            codec = "utf-8"  # the BOM once, at the start


def content_type(encoding: str = DEFAULT_ENCODING) -> str:
    """``text/csv; charset=…`` for an export encoding."""
    return f"text/csv; charset={ENCODINGS[normalise_encoding(encoding)][1]}"


def ascii_filename(filename: str, fallback_stem: str = "download") -> str:
    """An ASCII-only stand-in for ``filename`` (letters, digits, ``._-``), keeping its extension.

    A name that is not already such ASCII (e.g. 操作ログ_20260401.csv) becomes
    ``<fallback_stem>.<extension>`` (e.g. oplog_20260401.csv).
    """
    normalised = unicodedata.normalize("NFKC", filename)
    stem, dot, extension = normalised.rpartition(".")
    if not dot:
        stem, extension = normalised, ""

    def keep(part: str) -> str:
        return "".join(c for c in part if c.isascii() and (c.isalnum() or c in "._-"))

    # A stem that loses characters (Japanese, spaces, …) would be misleading: use the fallback.
    ascii_stem = stem if keep(stem) == stem and stem.strip("._-") else fallback_stem
    ascii_extension = keep(extension)
    return f"{ascii_stem}.{ascii_extension}" if ascii_extension else ascii_stem


def content_disposition(
    filename: str, disposition: str = "attachment", fallback_stem: str = "download"
) -> str:
    """RFC 6266 Content-Disposition: ASCII ``filename`` plus ``filename*=UTF-8''…`` (RFC 8187).

    E.g. ``attachment; filename="oplog_20260401.csv"; filename*=UTF-8''%E6%93%8D…``. No quote,
    backslash or line break of ``filename`` can reach the header.
    """
    if disposition not in ("attachment", "inline"):
        raise ValueError(f"disposition must be attachment or inline, got {disposition!r}")
    fallback = ascii_filename(filename, fallback_stem)
    encoded = quote(filename, safe="")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def csv_response(
    filename: str,
    header: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    *,
    encoding: str = DEFAULT_ENCODING,
    fallback_stem: str = "export",
) -> Response:
    """A download response: the CSV bytes, its Content-Type and an RFC 6266 attachment name."""
    name = normalise_encoding(encoding)
    response = Response(body=csv_bytes(header, rows, name))
    response.headers["Content-Type"] = content_type(name)
    response.headers["Content-Disposition"] = content_disposition(
        filename, "attachment", fallback_stem
    )
    return response


def dated_filename(prefix: str, moment: dt.datetime, extension: str = "csv") -> str:
    """``<prefix>_YYYYMMDD.<extension>`` for the date of ``moment`` as given (pass JST)."""
    return f"{prefix}_{moment:%Y%m%d}.{extension}"
