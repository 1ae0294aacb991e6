"""Manuals and forms for マニュアル照会 (BANK-7): registration by the bank, and what a contract sees.

A manual is for 会員 (member), 事業主 (employer) or both; a user sees the published ones of its
contract's kind and both, in the bank's order. Only PDFs are registered (BANK-7: 「PDF, name,
comment」): the content must be one.

The bank's back office (``core.staff.manuals``) registers (:func:`register_manual`), orders
(:func:`move_manual`) and withdraws (:func:`withdraw_manual`) them; each is audited. A withdrawn
manual is kept (the audit trail names it) but no longer shown. :func:`publish_forms` (``cjs bank
publish-forms``) publishes the forms the project generates (:mod:`core.bank.paper_forms`) on any
installation; :func:`seed_demo_manuals` adds the sample manuals for the demo. Both add only what is
not published yet, by title: running them again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from core import audit
from core.bank.paper_forms import DEMO_BANK, DEMO_DOCUMENTS, FORMS, BankInfo, GeneratedDocument
from core.db import make_engine, make_session_factory
from core.db.models import ContractKind, Manual
from core.outputs.pdf import PDF_CONTENT_TYPE

if TYPE_CHECKING:
    from pyramid.request import Request
    from sqlalchemy.orm import Session

#: The actors of the demo seed and of ``cjs bank publish-forms`` in the audit log.
SEED_ACTOR = "demo-seed"
PUBLISH_ACTOR = "publish-forms"
#: Content types a manual may have (BANK-7 registers PDFs).
CONTENT_TYPES = frozenset({PDF_CONTENT_TYPE})
MAX_SIZE = 20 * 1024 * 1024
TITLE_MAX = 100
COMMENT_MAX = 255
FILENAME_MAX = 255

_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
#: A PDF starts with ``%PDF-1.x`` or ``%PDF-2.x`` (ISO 32000) and ends with ``%%EOF`` (give or take
#: trailing white space and a few bytes some writers add).
_PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9]")
_PDF_TAIL_BYTES = 1024

TITLE_REQUIRED = "マニュアル名を入力してください。"
TITLE_TOO_LONG = f"マニュアル名は{TITLE_MAX}文字以内で入力してください。"
COMMENT_TOO_LONG = f"コメントは{COMMENT_MAX}文字以内で入力してください。"
AUDIENCE_UNKNOWN = "対象は会員・事業主・両方のいずれかを指定してください。"
NOT_A_PDF = "PDFファイルではありません。PDFファイルを選択してください。"
NOT_FOUND = "指定のマニュアルは見つからないか、すでに掲載を終了しています。"


def is_pdf(content: bytes) -> bool:
    """Whether ``content`` looks like a whole PDF: its header at the start, ``%%EOF`` at the end."""
    return _PDF_HEADER.match(content) is not None and b"%%EOF" in content[-_PDF_TAIL_BYTES:]


class Audience(enum.StrEnum):
    """Who a manual is for: 会員, 事業主 or both."""

    MEMBER = "member"
    EMPLOYER = "employer"
    BOTH = "both"

    @property
    def label(self) -> str:
        return {"member": "会員", "employer": "事業主", "both": "会員・事業主"}[self.value]


class ManualError(ValueError):
    """A manual that cannot be registered, moved or withdrawn; the message says why (in Japanese),
    ``field`` names the form field it is about (title, comment, audience or file)."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def audiences_for(kind: str) -> tuple[str, str]:
    """The audiences a contract of ``kind`` sees: its own and 'both'."""
    return (ContractKind(kind).value, Audience.BOTH.value)


def visible_manuals(dbsession: Session, kind: str) -> list[Manual]:
    """The manuals a contract of ``kind`` sees, in the bank's order; contents not loaded."""
    return list(
        dbsession.scalars(
            select(Manual)
            .options(defer(Manual.content))
            .where(Manual.audience.in_(audiences_for(kind)), Manual.withdrawn_at.is_(None))
            .order_by(Manual.sort_order, Manual.id)
        )
    )


def visible_manual(dbsession: Session, kind: str, manual_id: int) -> Manual | None:
    """Manual ``manual_id`` if a contract of ``kind`` may see it, else None (as if absent)."""
    return dbsession.scalars(
        select(Manual).where(
            Manual.id == manual_id,
            Manual.audience.in_(audiences_for(kind)),
            Manual.withdrawn_at.is_(None),
        )
    ).one_or_none()


def safe_filename(name: str) -> str:
    """``name`` without path separators, control characters and the characters Windows refuses."""
    cleaned = _UNSAFE_FILENAME.sub("_", name).strip().strip(".")
    return cleaned[:FILENAME_MAX] or "manual.pdf"


def format_size(size: int) -> str:
    """A file size for the list: 「512 B」, 「98 KB」 (rounded up), 「1.5 MB」."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{math.ceil(size / 1024):,} KB"
    return f"{size / (1024 * 1024):,.1f} MB"


def register_manual(
    dbsession: Session,
    *,
    title: str,
    content: bytes,
    audience: str,
    comment: str = "",
    filename: str | None = None,
    content_type: str = PDF_CONTENT_TYPE,
    sort_order: int = 100,
    actor: str,
    actor_kind: str = "bank",
    request: Request | None = None,
) -> Manual:
    """Register a manual or form for マニュアル照会 (BANK-7) and audit it; returns the new row.

    Raises :class:`ManualError` for an empty or too long title or comment, an unknown audience, a
    content type other than PDF, content that is not a PDF, or content over 20 MB. The file name
    defaults to ``<title>.pdf``; it is made safe to save on any system.
    """
    title = title.strip()
    comment = comment.strip()
    if not title:
        raise ManualError(TITLE_REQUIRED, "title")
    if len(title) > TITLE_MAX:
        raise ManualError(TITLE_TOO_LONG, "title")
    if len(comment) > COMMENT_MAX:
        raise ManualError(COMMENT_TOO_LONG, "comment")
    try:
        audience = Audience(audience).value
    except ValueError:
        raise ManualError(AUDIENCE_UNKNOWN, "audience") from None
    if content_type not in CONTENT_TYPES:
        raise ManualError("登録できるのはPDFファイルだけです。")
    if not content:
        raise ManualError("ファイルが空です。")
    if len(content) > MAX_SIZE:
        raise ManualError(f"ファイルは{MAX_SIZE // (1024 * 1024)}MB以内にしてください。")
    if content_type == PDF_CONTENT_TYPE and not is_pdf(content):
        raise ManualError(NOT_A_PDF)
    name = safe_filename(filename or f"{title}.pdf")
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    manual = Manual(
        title=title,
        comment=comment,
        audience=audience,
        filename=name,
        content_type=content_type,
        content=content,
        size=len(content),
        sort_order=sort_order,
    )
    dbsession.add(manual)
    dbsession.flush()
    audit.record(
        dbsession,
        "bank.manual.register",
        actor=actor,
        actor_kind=actor_kind,
        target=f"manual:{manual.id}",
        request=request,
        details={"title": title, "audience": audience, "size": len(content)},
    )
    return manual


def bank_manuals(dbsession: Session) -> list[Manual]:
    """Every manual, for the bank: the published ones in their order, then the withdrawn ones,
    latest first; contents not loaded."""
    return list(
        dbsession.scalars(
            select(Manual)
            .options(defer(Manual.content))
            .order_by(
                Manual.withdrawn_at.is_not(None),
                Manual.withdrawn_at.desc(),
                Manual.sort_order,
                Manual.id,
            )
        )
    )


def _published(dbsession: Session) -> list[Manual]:
    return [manual for manual in bank_manuals(dbsession) if manual.withdrawn_at is None]


def move_manual(
    dbsession: Session,
    manual_id: int,
    steps: int,
    *,
    actor: str,
    request: Request | None = None,
) -> Manual:
    """Move published manual ``manual_id`` ``steps`` places in マニュアル照会's order (negative: up),
    within the list; the published manuals are numbered 10, 20, 30, … again. Audited.
    Raises :class:`ManualError` for a manual not published."""
    published = _published(dbsession)
    positions = [manual.id for manual in published]
    if manual_id not in positions:
        raise ManualError(NOT_FOUND)
    old = positions.index(manual_id)
    new = min(max(old + steps, 0), len(published) - 1)
    manual = published.pop(old)
    published.insert(new, manual)
    for number, each in enumerate(published, start=1):
        each.sort_order = number * 10
    audit.record(
        dbsession,
        "bank.manual.reorder",
        actor=actor,
        actor_kind="bank",
        target=f"manual:{manual.id}",
        request=request,
        details={"title": manual.title, "from": old + 1, "to": new + 1},
    )
    return manual


def withdraw_manual(
    dbsession: Session,
    manual_id: int,
    *,
    now: dt.datetime,
    actor: str,
    request: Request | None = None,
) -> Manual:
    """Withdraw published manual ``manual_id`` from マニュアル照会 (kept, no longer shown). Audited.
    Raises :class:`ManualError` for a manual not published."""
    manual = dbsession.get(Manual, manual_id)
    if manual is None or manual.withdrawn_at is not None:
        raise ManualError(NOT_FOUND)
    manual.withdrawn_at = now
    audit.record(
        dbsession,
        "bank.manual.withdraw",
        actor=actor,
        actor_kind="bank",
        target=f"manual:{manual.id}",
        request=request,
        details={"title": manual.title, "audience": manual.audience},
    )
    return manual


def _add_missing(
    dbsession: Session,
    documents: tuple[GeneratedDocument, ...],
    bank: BankInfo,
    *,
    actor: str,
    actor_kind: str,
) -> list[str]:
    """Register each of ``documents`` whose title is not published; the titles added."""
    published = {manual.title for manual in _published(dbsession)}
    added = []
    for document in documents:
        if document.title in published:
            continue
        register_manual(
            dbsession,
            title=document.title,
            comment=document.comment,
            audience=document.audience,
            filename=document.filename,
            content=document.build(bank),
            sort_order=document.sort_order,
            actor=actor,
            actor_kind=actor_kind,
        )
        added.append(document.title)
    return added


def publish_forms(dbsession: Session, bank: BankInfo, *, actor: str = PUBLISH_ACTOR) -> list[str]:
    """Publish the paper forms the project generates (初期パスワード届出書 会員向け / 事業主向け, the
    request form to the bank), printed with ``bank``'s name, office and numbers, where no form of
    that title is published (idempotent). Returns the titles added. Does not commit."""
    return _add_missing(dbsession, FORMS, bank, actor=actor, actor_kind="system")


def seed_demo_manuals(dbsession: Session, bank: BankInfo | None = None) -> list[str]:
    """The demo's マニュアル照会: the sample manuals and the forms, where not published (idempotent).

    Returns the titles added (none when all are there). Does not commit.
    """
    return _add_missing(
        dbsession, DEMO_DOCUMENTS, bank or DEMO_BANK, actor=SEED_ACTOR, actor_kind="system"
    )


def publish_forms_with_settings(settings: Mapping[str, Any], bank: BankInfo) -> list[str]:
    """``cjs bank publish-forms``: publish the forms in one transaction; one line per form added."""
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        session = make_session_factory(engine)()
        try:
            with session.begin():
                added = publish_forms(session, bank)
        finally:
            session.close()
    finally:
        engine.dispose()
    return [f"form published: {title}" for title in added] or ["forms: no change"]


def seed_demo_manuals_with_settings(settings: Mapping[str, Any]) -> list[str]:
    """``cjs demo``: seed the demo manuals in one transaction; one report line per manual added."""
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        session = make_session_factory(engine)()
        try:
            with session.begin():
                added = seed_demo_manuals(session)
        finally:
            session.close()
    finally:
        engine.dispose()
    return [f"manual added: {title}" for title in added] or ["manuals: no change"]
