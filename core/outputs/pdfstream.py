"""Streaming PDF lists (SPEC 6, #13 item 6): A4 lists of any length, written page by page to a file.

``core.outputs.pdf.PdfDocument`` lays out flowables with reportlab, which keeps every page of a
document in memory until it is saved: right for forms and short lists, not for a list of 100,000
employees. This writer puts each page's content stream into the output file as soon as the page is
done; what it keeps is the offset of each object and the set of glyphs used. At the end it embeds IPA
Gothic (the same font file as ``core.outputs.pdf``), subset to the glyphs used with their glyph ids
kept (fontTools, ``retain_gids``) — so pages written earlier stay valid — as a CID font with a
``ToUnicode`` map, so that the text can be searched and extracted (pdftotext) as written.

:func:`list_pdf` draws the bank's paper list on top of it: on every page the organisation, the
deposit group, the title, 作成基準日, the print time and 「X / Y ページ」, the column header, then the
rows, and the totals after the last row. The page count is known before the first page (the caller
gives the number of rows), so rows can come from a database cursor and are never all in memory.

The list is written in the language of the download (:func:`group_header` takes it from the
output's context): its own words, and the title, column headings, totals and cells given as
``core.i18n._`` messages, are translated; data (names, the organisation) is written as it is, in the
same Japanese font, so a Japanese name on an English list still shows.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

from fontTools import subset
from fontTools.ttLib import TTFont

from core.hookspecs import OutputContext
from core.i18n import DEFAULT_LOCALE, Message, _
from core.outputs.pdf import GOTHIC, MISSING_GLYPH, font_paths, pdf_language
from core.timefmt import kanji_day

#: A4 portrait in points.
A4_SIZE = (595.2756, 841.8898)
MM = 72 / 25.4

_font_lock = threading.Lock()
_font_cache: dict[str, _FontMetrics] = {}


class _FontMetrics:
    """What the pages need from the TrueType font: glyph ids by character and their advances."""

    def __init__(self, path: str) -> None:
        font = TTFont(path, lazy=True)
        self.path = path
        self.units = int(font["head"].unitsPerEm)
        order = font.getGlyphOrder()
        gid_of_name = {name: gid for gid, name in enumerate(order)}
        self.gid = {cp: gid_of_name[name] for cp, name in font.getBestCmap().items()}
        metrics = font["hmtx"].metrics
        self.advance = [metrics[name][0] for name in order]
        head, hhea = font["head"], font["hhea"]
        self.bbox = [self._scaled(v) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.ascent = self._scaled(hhea.ascent)
        self.descent = self._scaled(hhea.descent)
        self.missing = self.gid.get(ord(MISSING_GLYPH), 0)
        self._char_advance: dict[str, int] = {}
        font.close()

    def _scaled(self, value: int) -> int:
        return round(value * 1000 / self.units)

    def glyph(self, char: str) -> int:
        """The glyph id of ``char``; 〓 for a character the font cannot draw."""
        return self.gid.get(ord(char), self.missing)

    def width(self, text: str, size: float) -> float:
        """The width of ``text`` at ``size`` points."""
        known = self._char_advance
        try:
            return sum([known[c] for c in text]) * size / self.units
        except KeyError:
            for char in text:
                known.setdefault(char, self.advance[self.glyph(char)])
            return self.width(text, size)


def _metrics() -> _FontMetrics:
    with _font_lock:
        if GOTHIC not in _font_cache:
            _font_cache[GOTHIC] = _FontMetrics(str(font_paths()[GOTHIC]))
        return _font_cache[GOTHIC]


def _pdf_text_string(text: str) -> bytes:
    """A PDF text string in UTF-16BE with its BOM, written in hex."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _pdf_date(moment: dt.datetime) -> bytes:
    offset = moment.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"(D:{moment:%Y%m%d%H%M%S}{sign}{hours:02d}'{minutes:02d}')".encode()


class StreamingPdf:
    """A PDF written to ``out`` page by page: text in IPA Gothic, lines and shaded boxes.

    Draw on the current page with :meth:`text`, :meth:`line` and :meth:`box`, end it with
    :meth:`end_page`, and finish the file with :meth:`close`. Coordinates are points from the
    bottom left, as in PDF.
    """

    # Object numbers reserved for what is written at the end.
    CATALOG, PAGES, FONT, CID_FONT, DESCRIPTOR, FONT_FILE, TO_UNICODE, INFO = range(1, 9)

    def __init__(
        self,
        out: IO[bytes],
        *,
        title: str,
        created_at: dt.datetime,
        size: tuple[float, float],
        language: str = DEFAULT_LOCALE,
    ) -> None:
        self.out = out
        self.title = title
        self.language = language
        self.created_at = created_at
        self.size = size
        self.font = _metrics()
        self._offsets: dict[int, int] = {}
        self._next_object = self.INFO + 1
        self._pages: list[int] = []
        self._used: dict[int, str] = {}
        self._codes: dict[str, str] = {}
        self._ops: list[bytes] = []
        self._start = out.tell()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    # -- drawing ---------------------------------------------------------------------------------

    def width(self, text: str, size: float) -> float:
        """The width of ``text`` at ``size`` points in the list font."""
        return self.font.width(text, size)

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        align: Literal["left", "right", "center"] = "left",
    ) -> None:
        """Draw ``text`` with its baseline at ``y``, starting, ending or centred at ``x``."""
        if not text:
            return
        if align != "left":
            width = self.width(text, size)
            x -= width if align == "right" else width / 2
        self._ops.append(
            f"BT /F1 {size:g} Tf {x:.2f} {y:.2f} Td <{self._encode(text)}> Tj ET".encode()
        )

    def _encode(self, text: str) -> str:
        """The glyph ids of ``text`` in hex, noting each glyph used (for the font and ToUnicode)."""
        codes = self._codes
        for char in text:
            if char not in codes:
                gid = self.font.glyph(char)
                codes[char] = f"{gid:04X}"
                self._used.setdefault(gid, char if gid != self.font.missing else MISSING_GLYPH)
        return "".join([codes[char] for char in text])

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        """A grey line."""
        self._ops.append(f"{width:g} w 0.33 G {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S".encode())

    def box(self, x: float, y: float, width: float, height: float) -> None:
        """A light blue-grey filled rectangle (header rows)."""
        self._ops.append(
            f"0.91 0.933 0.953 rg {x:.2f} {y:.2f} {width:.2f} {height:.2f} re f 0 g".encode()
        )

    def end_page(self) -> None:
        """Write the current page to the file and start a new, empty one."""
        content = zlib.compress(b"\n".join(self._ops), 6)
        self._ops = []
        stream = self._object()
        self._write_stream(stream, content, b"/Filter /FlateDecode")
        page = self._object()
        width, height = self.size
        self._write_object(
            page,
            (
                f"<< /Type /Page /Parent {self.PAGES} 0 R /MediaBox [0 0 {width:.4f} {height:.4f}] "
                f"/Resources << /Font << /F1 {self.FONT} 0 R >> >> /Contents {stream} 0 R >>"
            ).encode(),
        )
        self._pages.append(page)

    # -- the file --------------------------------------------------------------------------------

    def _object(self) -> int:
        number = self._next_object
        self._next_object += 1
        return number

    def _write_object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self.out.tell() - self._start
        self.out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def _write_stream(self, number: int, data: bytes, extra: bytes = b"") -> None:
        head = b"<< /Length %d " % len(data) + extra + b" >>\nstream\n"
        self._write_object(number, head + data + b"\nendstream")

    def close(self) -> int:
        """Embed the font, write the page tree, the cross-reference table and the trailer; returns
        the number of pages."""
        if self._ops or not self._pages:
            self.end_page()
        name = b"/CJSAAA+IPAGothic"
        self._write_font(name)
        kids = b" ".join(b"%d 0 R" % page for page in self._pages)
        self._write_object(
            self.PAGES, b"<< /Type /Pages /Count %d /Kids [" % len(self._pages) + kids + b"] >>"
        )
        self._write_object(
            self.CATALOG,
            b"<< /Type /Catalog /Pages %d 0 R /Lang (%s) "
            % (self.PAGES, pdf_language(self.language).encode())
            + b"/ViewerPreferences << /DisplayDocTitle true >> >>",
        )
        self._write_object(
            self.INFO,
            b"<< /Title "
            + _pdf_text_string(self.title)
            + b" /Creator (CJS) /Producer (CJS) /CreationDate "
            + _pdf_date(self.created_at)
            + b" >>",
        )
        xref = self.out.tell() - self._start
        count = self._next_object
        lines = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self._offsets[n] for n in range(1, count)]
        self.out.write(b"".join(lines))
        self.out.write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (count, self.CATALOG, self.INFO, xref)
        )
        return len(self._pages)

    def _write_font(self, name: bytes) -> None:
        font = self.font
        used = sorted(self._used)
        widths = b" ".join(b"%d [%d]" % (gid, font._scaled(font.advance[gid])) for gid in used)
        self._write_object(
            self.FONT,
            b"<< /Type /Font /Subtype /Type0 /BaseFont "
            + name
            + b" /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>"
            % (self.CID_FONT, self.TO_UNICODE),
        )
        self._write_object(
            self.CID_FONT,
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont "
            + name
            + b" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
            + b" /FontDescriptor %d 0 R /DW 1000 /W [" % self.DESCRIPTOR
            + widths
            + b"] /CIDToGIDMap /Identity >>",
        )
        bbox = " ".join(str(v) for v in font.bbox).encode()
        self._write_object(
            self.DESCRIPTOR,
            b"<< /Type /FontDescriptor /FontName "
            + name
            + b" /Flags 4 /FontBBox ["
            + bbox
            + b"] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R >>"
            % (font.ascent, font.descent, font.ascent, self.FONT_FILE),
        )
        data = _subset_font(font.path, used)
        self._write_stream(
            self.FONT_FILE, zlib.compress(data, 6), b"/Length1 %d /Filter /FlateDecode" % len(data)
        )
        self._write_stream(self.TO_UNICODE, _to_unicode(self._used))


def _subset_font(path: str, gids: Sequence[int]) -> bytes:
    """The font with only ``gids`` (and .notdef) drawn, every glyph id kept where it was."""
    options = subset.Options()
    options.retain_gids = True
    options.notdef_outline = True
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "vhea", "vmtx"]
    font = TTFont(path)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(gids=list(gids))
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        return buffer.getvalue()
    finally:
        font.close()


def _to_unicode(used: dict[int, str]) -> bytes:
    """A ToUnicode CMap: each glyph id used back to the character written."""
    entries = sorted(used.items())
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{gid:04X}> <{char.encode('utf-16-be').hex().upper()}>" for gid, char in chunk]
        lines.append("endbfchar")
    lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
    return "\n".join(lines).encode()


# -- the bank's paper list -----------------------------------------------------------------------


@dataclass(frozen=True)
class ListColumn:
    """A column of a list: its heading (a message), width in millimetres, alignment and how a
    value is shown (a message it gives, e.g. a 変更区分, is written in the list's language)."""

    title: str
    width_mm: float
    align: Literal["left", "right", "center"] = "left"
    show: Callable[[Any], str] = str


def amount(value: Any) -> str:
    """An amount in yen as the lists print it: thousands separated (12,345)."""
    return f"{int(value):,}"


def count_total(count: int) -> Message:
    """The value of a 合計件数 line: 「1,234件」."""
    return _("${count}件", count=f"{count:,}")


def yen_total(total: int) -> Message:
    """The value of a total amount line: 「12,345,678円」."""
    return _("${amount}円", amount=f"{total:,}")


@dataclass(frozen=True)
class ListHeader:
    """What heads every page of a list: who, which deposit group, what, as of when, printed when;
    and the list's language: ``translate`` gives a message in it (Japanese by default)."""

    title: str
    organisation: str
    deposit_group: str
    basis_date: str
    printed_at: dt.datetime
    translate: Callable[[Any], str] = str
    language: str = DEFAULT_LOCALE


def group_header(context: OutputContext, title: str, basis_date: dt.date) -> ListHeader:
    """The header of a list of the context's deposit group: its organisation and group, ``title``
    (a message), 作成基準日 ``basis_date``, printed now; in the language of the download."""
    group = context.deposit_group
    return ListHeader(
        title=title,
        organisation=group.contract.organisation_name,
        deposit_group=f"{group.group_no} {group.name_kanji}",
        basis_date=kanji_day(basis_date),
        printed_at=context.now,
        translate=context.text,
        language=context.language,
    )


#: Sizes of the list (points).
MARGIN = 12 * MM
ROW_HEIGHT = 13.0
CELL_SIZE = 8.0
HEAD_SIZE = 8.5
MIN_LABEL_SIZE = 5.0
TITLE_SIZE = 14.0
TABLE_TOP = A4_SIZE[1] - MARGIN - 50


def rows_per_page() -> int:
    """How many rows fit under the header of a page (the column heading takes one)."""
    return int((TABLE_TOP - MARGIN - 12) // ROW_HEIGHT) - 1


def page_count(row_count: int, totals: int) -> int:
    """The pages of a list of ``row_count`` rows and ``totals`` total lines after them."""
    return max(1, math.ceil((row_count + totals) / rows_per_page()))


class RowCountMismatch(RuntimeError):
    """The rows given were not as many as announced (the page count would be wrong)."""


def _fit(pdf: StreamingPdf, text: str, width: float, size: float) -> str:
    """``text`` cut (with …) to fit ``width``."""
    if len(text) * size <= width or pdf.width(text, size) <= width:
        return text  # no glyph is wider than the font size: most cells need no measuring
    while text and pdf.width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _shrunk_size(pdf: StreamingPdf, text: str, width: float) -> float:
    """The size a column heading or a label is drawn at: the cells' size, or smaller (not below
    :data:`MIN_LABEL_SIZE`) for a text wider than its column (an English one, often)."""
    natural = pdf.width(text, CELL_SIZE)
    if natural <= width:
        return CELL_SIZE
    return max(MIN_LABEL_SIZE, math.floor(CELL_SIZE * width / natural * 10) / 10)


def write_list_pdf(
    out: IO[bytes],
    header: ListHeader,
    columns: Sequence[ListColumn],
    rows: Iterable[Sequence[Any]],
    *,
    row_count: int,
    totals: Sequence[tuple[str, str]] = (),
) -> int:
    """Write the list to ``out`` page by page; returns the number of pages.

    ``rows`` may be a database cursor: it is read once, row by row. ``row_count`` must be its
    length (the 「X / Y」 of the first page needs it); ``totals`` are (label, value) lines after the
    last row, e.g. ``[(_("合計件数"), count_total(1234)), (_("合計金額"), yen_total(12345678))]``.
    The title, headings, totals and any cell shown as a message are written in ``header``'s
    language.
    """
    translate = header.translate
    title = translate(header.title)
    pdf = StreamingPdf(
        out, title=title, created_at=header.printed_at, size=A4_SIZE, language=header.language
    )
    width, height = A4_SIZE
    pages = page_count(row_count, len(totals))
    per_page = rows_per_page()
    table_width = sum(c.width_mm for c in columns) * MM
    lefts = [MARGIN + sum(c.width_mm for c in columns[:i]) * MM for i in range(len(columns))]
    headings = [translate(column.title) for column in columns]
    heading_sizes = [
        _shrunk_size(pdf, heading, column.width_mm * MM - 2)
        for heading, column in zip(headings, columns, strict=True)
    ]
    printed_at = header.printed_at
    printed = translate(
        _("印刷日時 ${date} ${time}", date=kanji_day(printed_at), time=f"{printed_at:%H:%M}")
    )
    group = translate(_("入金グループ ${group}", group=header.deposit_group))
    basis = translate(_("作成基準日 ${date}", date=header.basis_date))

    def start(page: int) -> float:
        top = height - MARGIN
        pdf.text(MARGIN, top - 8, header.organisation, HEAD_SIZE)
        pdf.text(width - MARGIN, top - 8, printed, HEAD_SIZE, "right")
        pdf.text(width / 2, top - 26, title, TITLE_SIZE, "center")
        pdf.text(MARGIN, top - 42, group, HEAD_SIZE)
        pdf.text(width / 2, top - 42, basis, HEAD_SIZE, "center")
        page_of = translate(_("${page} / ${pages} ページ", page=page, pages=pages))
        pdf.text(width - MARGIN, top - 42, page_of, HEAD_SIZE, "right")
        y = TABLE_TOP
        pdf.box(MARGIN, y - ROW_HEIGHT, table_width, ROW_HEIGHT)
        pdf.line(MARGIN, y, MARGIN + table_width, y)
        for column, left, heading, size in zip(
            columns, lefts, headings, heading_sizes, strict=True
        ):
            pdf.text(left + column.width_mm * MM / 2, y - 9.5, heading, size, "center")
        pdf.line(MARGIN, y - ROW_HEIGHT, MARGIN + table_width, y - ROW_HEIGHT)
        return y - ROW_HEIGHT

    def cell(column: ListColumn, left: float, y: float, value: Any) -> None:
        inner = column.width_mm * MM - 4
        shown = "" if value is None else column.show(value)
        size = CELL_SIZE
        if isinstance(shown, Message):  # a label (変更区分…): smaller rather than cut in English
            shown = translate(shown)
            size = _shrunk_size(pdf, shown, inner)
        text = _fit(pdf, shown, inner, size)
        x = {"left": left + 2, "right": left + inner + 2, "center": left + inner / 2 + 2}
        pdf.text(x[column.align], y - 9.5, text, size, column.align)

    page, on_page, written = 1, 0, 0
    y = start(page)
    for row in _then(rows, totals):
        if on_page == per_page:
            pdf.end_page()
            page, on_page = page + 1, 0
            y = start(page)
        if isinstance(row, _Total):
            pdf.text(MARGIN + 2, y - 9.5, translate(row.label), CELL_SIZE)
            pdf.text(MARGIN + table_width - 2, y - 9.5, translate(row.value), CELL_SIZE, "right")
        else:
            written += 1
            for column, left, value in zip(columns, lefts, row, strict=True):
                cell(column, left, y, value)
        y -= ROW_HEIGHT
        pdf.line(MARGIN, y, MARGIN + table_width, y, 0.3)
        on_page += 1
    if written != row_count:
        raise RowCountMismatch(f"{written} rows written, {row_count} announced")
    pdf.end_page()
    pdf.close()
    return pages


@dataclass(frozen=True)
class _Total:
    label: str
    value: str


def _then(rows: Iterable[Sequence[Any]], totals: Sequence[tuple[str, str]]) -> Iterable[Any]:
    yield from rows
    for label, value in totals:
        yield _Total(label, value)


def list_pdf(
    header: ListHeader,
    columns: Sequence[ListColumn],
    rows: Iterable[Sequence[Any]],
    *,
    row_count: int,
    totals: Sequence[tuple[str, str]] = (),
) -> IO[bytes]:
    """The list as a temporary file (rewound), for the core to stream to the browser."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 (the caller streams and closes it)
    try:
        write_list_pdf(out, header, columns, rows, row_count=row_count, totals=totals)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out
