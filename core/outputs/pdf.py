"""Shared PDF helpers: A4 pages, embedded Japanese fonts, a document and table builder.

Every PDF the service hands out (the forms and manuals of マニュアル照会 (BANK-7), and later the
service modules' lists, SPEC 6) is built here, so that they all look alike and all embed their fonts.

Fonts: IPA Gothic and IPA Mincho from Debian's ``fonts-ipafont`` (TrueType outlines), registered with
reportlab's ``TTFont``, which embeds a subset of the glyphs used. reportlab's built-in CID fonts
(HeiseiKakuGo-W5, HeiseiMin-W3) are *not* embedded, so viewers substitute a font of their own; Noto CJK
``.ttc`` files are CFF-based and refused by reportlab. Both are therefore out.

Output is reproducible (``invariant``): the same input gives the same bytes, so a seeded document does
not change from one run to the next.

Language: a module's PDF is written in the language of the request that downloads it
(``OutputContext.text`` gives a ``core.i18n._`` message in it; ``translate=context.text`` and
``language=context.language`` give the document's own words, 作成日時, and its ``/Lang``). The fonts
stay the Japanese ones whatever the language, so Japanese data on an English document still shows.

Usage::

    doc = PdfDocument("控除依頼リスト", subject="労金控除事務")
    doc.heading("控除依頼リスト")
    doc.text("2026年4月分")
    doc.table(["No", "氏名", "金額"], rows, col_widths=[12 * mm, 60 * mm, 30 * mm], align_right=[2])
    data = doc.build()
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from pyramid.response import Response
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.i18n import DEFAULT_LOCALE, _
from core.outputs.csvexport import content_disposition
from core.timefmt import kanji_day

__all__ = [
    "A4",
    "GOTHIC",
    "MINCHO",
    "PdfDocument",
    "PdfFontError",
    "Table",
    "TableStyle",
    "drawable",
    "font_paths",
    "make_table",
    "missing_glyphs",
    "mm",
    "para",
    "pdf_response",
    "register_fonts",
    "style",
]

GOTHIC = "IPAGothic"
MINCHO = "IPAMincho"

#: Where the fonts are looked for, first found wins: Debian's fonts-ipafont, its alternatives
#: links, then IPAex (same glyph design, also TrueType).
FONT_CANDIDATES: dict[str, tuple[str, ...]] = {
    GOTHIC: (
        "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    ),
    MINCHO: (
        "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf",
        "/usr/share/fonts/truetype/fonts-japanese-mincho.ttf",
        "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
    ),
}

PAGE_SIZE = A4
MARGIN = 15 * mm
LINE = colors.HexColor("#555555")
HEADER_FILL = colors.HexColor("#e8eef3")

_lock = threading.Lock()
_registered: dict[str, Path] = {}


class PdfFontError(RuntimeError):
    """The Japanese fonts are missing: install Debian's fonts-ipafont."""


def font_paths() -> dict[str, Path]:
    """The font file used for each of :data:`GOTHIC` and :data:`MINCHO`; raises PdfFontError."""
    found: dict[str, Path] = {}
    for name, candidates in FONT_CANDIDATES.items():
        path = next((Path(p) for p in candidates if Path(p).is_file()), None)
        if path is None:
            raise PdfFontError(
                f"{name}: none of {', '.join(candidates)} exists "
                "(install the Debian package fonts-ipafont)"
            )
        found[name] = path
    return found


def register_fonts() -> dict[str, Path]:
    """Register IPA Gothic and IPA Mincho with reportlab once (thread-safe); returns their files."""
    with _lock:
        if not _registered:
            paths = font_paths()
            for name, path in paths.items():
                pdfmetrics.registerFont(TTFont(name, str(path)))
            _registered.update(paths)
        return dict(_registered)


# --- Styles -------------------------------------------------------------------------------------

_STYLES: dict[str, dict[str, Any]] = {
    "title": {"fontName": GOTHIC, "fontSize": 16, "leading": 22, "alignment": TA_CENTER},
    "subtitle": {"fontName": GOTHIC, "fontSize": 11, "leading": 16, "alignment": TA_CENTER},
    "heading": {
        "fontName": GOTHIC,
        "fontSize": 13,
        "leading": 19,
        "spaceBefore": 8,
        "spaceAfter": 4,
    },
    "subheading": {
        "fontName": GOTHIC,
        "fontSize": 11,
        "leading": 16,
        "spaceBefore": 6,
        "spaceAfter": 2,
    },
    "body": {"fontName": MINCHO, "fontSize": 10.5, "leading": 16},
    "gothic": {"fontName": GOTHIC, "fontSize": 10.5, "leading": 16},
    "small": {"fontName": MINCHO, "fontSize": 8.5, "leading": 12},
    "small_gothic": {"fontName": GOTHIC, "fontSize": 8.5, "leading": 12},
    "right": {"fontName": MINCHO, "fontSize": 10.5, "leading": 16, "alignment": TA_RIGHT},
    "center": {"fontName": GOTHIC, "fontSize": 10.5, "leading": 16, "alignment": TA_CENTER},
    "cell": {"fontName": GOTHIC, "fontSize": 9, "leading": 12},
    "cell_right": {"fontName": GOTHIC, "fontSize": 9, "leading": 12, "alignment": TA_RIGHT},
    "cell_center": {"fontName": GOTHIC, "fontSize": 9, "leading": 12, "alignment": TA_CENTER},
    "bullet": {
        "fontName": MINCHO,
        "fontSize": 10.5,
        "leading": 16,
        "leftIndent": 14,
        "firstLineIndent": -10,
    },
}
_style_cache: dict[str, ParagraphStyle] = {}


def style(name: str, **overrides: Any) -> ParagraphStyle:
    """A paragraph style by name (title, heading, body, small, cell, …), Japanese line breaking."""
    register_fonts()
    if not overrides and name in _style_cache:
        return _style_cache[name]
    base = _STYLES[name]
    made = ParagraphStyle(
        name if not overrides else f"{name}-custom",
        **{"alignment": TA_LEFT, "wordWrap": "CJK", **base, **overrides},
    )
    if not overrides:
        _style_cache[name] = made
    return made


#: Drawn instead of a character the font has no glyph for (げた記号, the Japanese convention).
MISSING_GLYPH = unicodedata.lookup("GETA MARK")
#: Kept by :func:`para` (a literal one would be collapsed as white space).
IDEOGRAPHIC_SPACE = unicodedata.lookup("IDEOGRAPHIC SPACE")
#: The marker of :meth:`PdfDocument.bullets` (中黒, as the manuals write lists).
NAKAGURO = unicodedata.lookup("KATAKANA MIDDLE DOT")
_glyph_cache: dict[str, frozenset[int]] = {}


def glyphs(font_name: str) -> frozenset[int]:
    """The code points ``font_name`` (a registered TrueType font) can draw."""
    register_fonts()
    if font_name not in _glyph_cache:
        face = pdfmetrics.getFont(font_name).face
        _glyph_cache[font_name] = frozenset(face.charToGlyph)
    return _glyph_cache[font_name]


def missing_glyphs(text: str, font_name: str = GOTHIC) -> set[str]:
    """The characters of ``text`` (line breaks aside) that ``font_name`` cannot draw."""
    have = glyphs(font_name)
    return {c for c in text if c not in "\r\n" and ord(c) not in have}


def drawable(text: str, font_name: str = GOTHIC) -> str:
    """``text`` with each character the font cannot draw replaced by 〓 (never an invisible box)."""
    missing = missing_glyphs(text, font_name)
    if not missing:
        return text
    return "".join(MISSING_GLYPH if c in missing else c for c in text)


def para(text: str, style_name: str = "body", **overrides: Any) -> Paragraph:
    """A paragraph of plain text (escaped: data never becomes markup); newlines become breaks.

    Characters the style's font has no glyph for are drawn as 〓 (see :func:`drawable`).
    """
    paragraph_style = style(style_name, **overrides)
    text = drawable(str(text), paragraph_style.fontName)
    # An ideographic space written as a character reference is kept (a literal one would be
    # collapsed as white space): forms use them for the blanks of 「　　年　　月　　日」.
    markup = "<br/>".join(
        escape(line).replace(IDEOGRAPHIC_SPACE, "&#x3000;") for line in text.split("\n")
    )
    return Paragraph(markup, paragraph_style)


def _cell(value: Any, style_name: str) -> Any:
    if isinstance(value, Flowable | list):
        return value
    return para("" if value is None else str(value), style_name)


def make_table(
    header: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    col_widths: Sequence[float] | None = None,
    *,
    align_right: Iterable[int] = (),
    align_center: Iterable[int] = (),
    repeat_header: bool = True,
    wrap: bool = True,
    extra_style: Sequence[tuple[Any, ...]] = (),
) -> LongTable:
    """A grid table in IPA Gothic: shaded header row repeated on each page, cells wrapped.

    ``wrap=False`` puts cell text as plain strings (several times faster for long lists of short
    values; no wrapping). Cells that are already flowables are used as they are.
    """
    register_fonts()
    right, center = set(align_right), set(align_center)

    def style_for(column: int) -> str:
        return "cell_right" if column in right else "cell_center" if column in center else "cell"

    data: list[list[Any]] = []
    if header is not None:
        data.append([_cell(h, "cell_center") for h in header])
    for row in rows:
        if wrap:
            data.append([_cell(value, style_for(i)) for i, value in enumerate(row)])
        else:
            data.append(["" if value is None else drawable(str(value)) for value in row])
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), GOTHIC),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.5, LINE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header is not None:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL))
    for column in right:
        commands.append(("ALIGN", (column, 0), (column, -1), "RIGHT"))
    for column in center:
        commands.append(("ALIGN", (column, 0), (column, -1), "CENTER"))
    commands.extend(extra_style)
    return LongTable(
        data,
        colWidths=list(col_widths) if col_widths is not None else None,
        repeatRows=1 if header is not None and repeat_header else 0,
        style=TableStyle(commands),
        hAlign="LEFT",
    )


# --- Document -----------------------------------------------------------------------------------


def pdf_language(language: str) -> str:
    """The ``/Lang`` of a document written in ``language`` (a locale name: ``ja``, ``en``)."""
    return "ja-JP" if language == DEFAULT_LOCALE else language.replace("_", "-")


def _pdf_date(moment: dt.datetime) -> str:
    """A PDF date string, e.g. ``D:20260401090000+09'00'``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware times")
    offset = moment.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return moment.strftime("D:%Y%m%d%H%M%S") + f"{sign}{hours:02d}'{minutes:02d}'"


def _numbered_canvas(document: PdfDocument) -> type[Canvas]:
    """A canvas that draws the running header and 「n / total」 once the page count is known."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved: list[dict[str, Any]] = []
            if document.created_at is not None:
                stamp = _pdf_date(document.created_at)
                self.setDateFormatter(lambda *_: stamp)

        def showPage(self) -> None:
            self._saved.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved)
            for state in self._saved:
                self.__dict__.update(state)
                document._decorate(self, self._pageNumber, total)
                super().showPage()
            super().save()

    return NumberedCanvas


class PdfDocument:
    """An A4 document built from flowables: headings, text, tables; fonts embedded.

    ``header`` is drawn at the top of every page (left) with ``printed_at`` (right, JST as given);
    page numbers 「n / total」 at the bottom unless ``page_numbers=False`` (forms have one page).
    ``created_at`` (default ``printed_at``; aware) is the document's creation date; without either
    the date is reportlab's invariant 2000-01-01. ``translate`` gives the document's own words
    (作成日時) in ``language``; the caller writes its title and texts in it.
    """

    def __init__(
        self,
        title: str,
        *,
        subject: str = "",
        author: str = "",
        header: str | None = None,
        printed_at: dt.datetime | None = None,
        created_at: dt.datetime | None = None,
        page_numbers: bool = True,
        landscape_pages: bool = False,
        margin: float = MARGIN,
        translate: Callable[[object], str] = str,
        language: str = DEFAULT_LOCALE,
    ) -> None:
        register_fonts()
        self.title = title
        self.subject = subject
        self.author = author
        self.header = header
        self.printed_at = printed_at
        self.created_at = created_at or printed_at
        self.page_numbers = page_numbers
        self.pagesize = landscape(PAGE_SIZE) if landscape_pages else PAGE_SIZE
        self.margin = margin
        self.translate = translate
        self.language = language
        self.story: list[Flowable] = []

    @property
    def width(self) -> float:
        """The usable width between the margins (points)."""
        return float(self.pagesize[0] - 2 * self.margin)

    def add(self, *flowables: Flowable) -> PdfDocument:
        """Append any reportlab flowables."""
        self.story.extend(flowables)
        return self

    def title_block(self, title: str, subtitle: str = "") -> PdfDocument:
        """A centred title (Gothic) and optional subtitle."""
        self.story.append(para(title, "title"))
        if subtitle:
            self.story.append(para(subtitle, "subtitle"))
        self.story.append(Spacer(1, 4 * mm))
        return self

    def heading(self, text: str, level: int = 1) -> PdfDocument:
        """A heading (Gothic); level 1 or 2. Kept with what follows."""
        self.story.append(CondPageBreak(30 * mm))
        self.story.append(para(text, "heading" if level == 1 else "subheading"))
        return self

    def text(self, text: str, style_name: str = "body", **overrides: Any) -> PdfDocument:
        """A paragraph of plain text (Mincho by default)."""
        self.story.append(para(text, style_name, **overrides))
        return self

    def bullets(self, items: Iterable[str], marker: str = NAKAGURO) -> PdfDocument:
        """A list, one paragraph per item, with a hanging marker."""
        for item in items:
            self.story.append(para(f"{marker}{item}", "bullet"))
        return self

    def steps(self, items: Iterable[str]) -> PdfDocument:
        """A numbered procedure ①②③… as the manuals write them ((21), (22)… after ⑳)."""
        for i, item in enumerate(items):
            number = chr(0x2460 + i) if i < 20 else f"({i + 1})"
            self.story.append(para(f"{number} {item}", "bullet", leftIndent=18))
        return self

    def table(
        self, header: Sequence[Any] | None, rows: Iterable[Sequence[Any]], **kw: Any
    ) -> PdfDocument:
        """A table (see :func:`make_table`)."""
        self.story.append(make_table(header, rows, **kw))
        return self

    def spacer(self, height: float = 4 * mm) -> PdfDocument:
        """Vertical space."""
        self.story.append(Spacer(1, height))
        return self

    def keep_together(self, *flowables: Flowable) -> PdfDocument:
        """Flowables kept on one page."""
        self.story.append(KeepTogether(list(flowables)))
        return self

    def page_break(self) -> PdfDocument:
        """Start a new page."""
        self.story.append(PageBreak())
        return self

    def _decorate(self, canvas: Canvas, page: int, total: int) -> None:
        width, height = self.pagesize
        canvas.saveState()
        canvas.setFont(GOTHIC, 8)
        canvas.setFillColor(colors.HexColor("#444444"))
        if self.header:
            canvas.drawString(self.margin, height - self.margin + 5 * mm, drawable(self.header))
        if self.printed_at is not None:
            canvas.drawRightString(
                width - self.margin,
                height - self.margin + 5 * mm,
                drawable(self.translate(created_label(self.printed_at))),
            )
        if self.page_numbers:
            canvas.drawCentredString(width / 2, self.margin - 8 * mm, f"{page} / {total}")
        canvas.restoreState()

    def build(self) -> bytes:
        """The PDF bytes (reproducible: the same story gives the same bytes)."""
        buffer = io.BytesIO()
        template = SimpleDocTemplate(
            buffer,
            pagesize=self.pagesize,
            leftMargin=self.margin,
            rightMargin=self.margin,
            topMargin=self.margin,
            bottomMargin=self.margin,
            title=self.title,
            subject=self.subject,
            author=self.author,
            creator="CJS",
            lang=pdf_language(self.language),
            displayDocTitle=True,
            initialFontName=GOTHIC,
            initialFontSize=10.5,
            invariant=1,
        )
        template.build(list(self.story), canvasmaker=_numbered_canvas(self))
        return buffer.getvalue()


def created_label(moment: dt.datetime) -> str:
    """「作成日時 2026年04月01日 09:00」 (a message: the document's language)."""
    return _("作成日時 ${date} ${time}", date=kanji_day(moment), time=f"{moment:%H:%M}")


PDF_CONTENT_TYPE = "application/pdf"


def pdf_response(
    data: bytes,
    filename: str,
    *,
    disposition: str = "attachment",
    fallback_stem: str = "document",
) -> Response:
    """A download response: the PDF bytes, ``application/pdf`` and an RFC 6266 file name."""
    response = Response(body=data)
    response.headers["Content-Type"] = PDF_CONTENT_TYPE
    response.headers["Content-Disposition"] = content_disposition(
        filename, disposition, fallback_stem
    )
    return response
