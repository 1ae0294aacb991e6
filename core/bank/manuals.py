"""Manuals and forms for マニュアル照会 (BANK-7): registration by the bank, and what a contract sees.

A manual is for 会員 (member), 事業主 (employer) or both; a user sees those of its contract's kind
and both. Only PDFs are registered (BANK-7: 「PDF, name, comment」): the content must be one.

:func:`register_manual` is what the bank's back office (and ``seed_demo_manuals``) call; it is
audited. :func:`seed_demo_manuals` stores the PDFs the project generates (:mod:`core.bank.paper_forms`)
when they are missing, by title: running it again changes nothing.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from core import audit
from core.bank.paper_forms import DEMO_BANK, DEMO_DOCUMENTS, BankInfo
from core.db import make_engine, make_session_factory
from core.db.models import ContractKind, Manual
from core.outputs.pdf import PDF_CONTENT_TYPE

if TYPE_CHECKING:
    from pyramid.request import Request
    from sqlalchemy.orm import Session

#: The actor of the demo seed in the audit log.
SEED_ACTOR = "demo-seed"
#: Content types a manual may have (BANK-7 registers PDFs).
CONTENT_TYPES = frozenset({PDF_CONTENT_TYPE})
MAX_SIZE = 20 * 1024 * 1024
TITLE_MAX = 100
COMMENT_MAX = 255
FILENAME_MAX = 255

_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


class Audience(enum.StrEnum):
    """Who a manual is for: 会員, 事業主 or both."""

    MEMBER = "member"
    EMPLOYER = "employer"
    BOTH = "both"

    @property
    def label(self) -> str:
        return {"member": "会員", "employer": "事業主", "both": "会員・事業主"}[self.value]


class ManualError(ValueError):
    """A manual that cannot be registered; the message says why (in Japanese)."""


def audiences_for(kind: str) -> tuple[str, str]:
    """The audiences a contract of ``kind`` sees: its own and 'both'."""
    return (ContractKind(kind).value, Audience.BOTH.value)


def visible_manuals(dbsession: Session, kind: str) -> list[Manual]:
    """The manuals a contract of ``kind`` sees, in the bank's order; contents not loaded."""
    return list(
        dbsession.scalars(
            select(Manual)
            .options(defer(Manual.content))
            .where(Manual.audience.in_(audiences_for(kind)))
            .order_by(Manual.sort_order, Manual.id)
        )
    )


def visible_manual(dbsession: Session, kind: str, manual_id: int) -> Manual | None:
    """Manual ``manual_id`` if a contract of ``kind`` may see it, else None (as if absent)."""
    return dbsession.scalars(
        select(Manual).where(Manual.id == manual_id, Manual.audience.in_(audiences_for(kind)))
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
        raise ManualError("マニュアル名を入力してください。")
    if len(title) > TITLE_MAX:
        raise ManualError(f"マニュアル名は{TITLE_MAX}文字以内で入力してください。")
    if len(comment) > COMMENT_MAX:
        raise ManualError(f"コメントは{COMMENT_MAX}文字以内で入力してください。")
    try:
        audience = Audience(audience).value
    except ValueError:
        raise ManualError("対象は会員・事業主・両方のいずれかを指定してください。") from None
    if content_type not in CONTENT_TYPES:
        raise ManualError("登録できるのはPDFファイルだけです。")
    if not content:
        raise ManualError("ファイルが空です。")
    if len(content) > MAX_SIZE:
        raise ManualError(f"ファイルは{MAX_SIZE // (1024 * 1024)}MB以内にしてください。")
    if content_type == PDF_CONTENT_TYPE and not content.startswith(b"%PDF-"):
        raise ManualError("PDFファイルではありません。")
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


def seed_demo_manuals(dbsession: Session, bank: BankInfo | None = None) -> list[str]:
    """Store the generated manuals and forms missing from マニュアル照会, by title (idempotent).

    Returns the titles added (none when all are there). Does not commit.
    """
    existing = set(dbsession.scalars(select(Manual.title)))
    added = []
    for document in DEMO_DOCUMENTS:
        if document.title in existing:
            continue
        register_manual(
            dbsession,
            title=document.title,
            comment=document.comment,
            audience=document.audience,
            filename=document.filename,
            content=document.build(bank or DEMO_BANK),
            sort_order=document.sort_order,
            actor=SEED_ACTOR,
            actor_kind="system",
        )
        added.append(document.title)
    return added


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
