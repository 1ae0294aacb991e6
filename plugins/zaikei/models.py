"""財形's tables (SPEC 6.4, #13 item 4): the bank's runs (a document made as of a 作成基準日), the
savings details per employee of a run, and its change details. Every row belongs to one contract and
deposit group (``GroupScoped``): the module reads them only through ``scoped_select``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.batches import label_of
from core.db.models import Base, UTCDateTime
from core.i18n import _
from core.security.tenancy import GroupScoped, batch_line_indexes

#: The documents the bank makes, by code (作成区分 of the files), with their names (messages).
DOCUMENTS = {
    "1": _("預入依頼書（月例）"),
    "2": _("預入依頼書（夏季一時金）"),
    "3": _("預入依頼書（年末一時金）"),
    "4": _("加入者残高一覧表"),
    "5": _("奨励金（月例）"),
    "6": _("奨励金（一時金）"),
}
#: The runs that carry savings details (預入依頼書).
DEPOSIT_DOCUMENTS = ("1", "2", "3")
#: 財形の種類, by the code of the files; the database keeps the Japanese text
#: (``core.batches.stored_texts``).
SAVINGS_KINDS = {"1": _("一般"), "2": _("年金"), "3": _("住宅")}


class ZaikeiRun(GroupScoped, Base):
    """A document the bank made for the group as of its 作成基準日 (the last three of each are kept)."""

    __tablename__ = "zaikei_runs"
    __table_args__ = (UniqueConstraint("deposit_group_id", "document", "basis_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(String(1))
    basis_date: Mapped[dt.date] = mapped_column(Date)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    @property
    def document_name(self) -> str:
        """預入依頼書（月例） … (a message)."""
        return DOCUMENTS[self.document]


class ZaikeiDetail(GroupScoped, Base):
    """An employee's savings in a run: the kind, the amount per cycle and the balance."""

    __tablename__ = "zaikei_details"
    # One index per sort of the inquiry (core.inquiry): scope, run, sort, id.
    __table_args__ = batch_line_indexes(
        "zaikei_details",
        "run_id",
        {"employee": "employee_no", "kana": "name_kana", "balance": "balance"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("zaikei_runs.id"))
    employee_no: Mapped[str] = mapped_column(String(10))
    name_kana: Mapped[str] = mapped_column(String(30))
    name_kanji: Mapped[str] = mapped_column(String(20))
    savings_kind: Mapped[str] = mapped_column(String(2))
    amount_monthly: Mapped[int] = mapped_column(Integer)
    amount_summer: Mapped[int] = mapped_column(Integer)
    amount_winter: Mapped[int] = mapped_column(Integer)
    balance: Mapped[int] = mapped_column(Integer)

    @property
    def savings_kind_label(self) -> str:
        """一般, 年金 or 住宅 in the screen's language (a message)."""
        return label_of(SAVINGS_KINDS, self.savings_kind)


class ZaikeiChange(GroupScoped, Base):
    """What changed for an employee in a run (預入依頼書 only): before → after."""

    __tablename__ = "zaikei_changes"
    __table_args__ = batch_line_indexes("zaikei_changes", "run_id", {"employee": "employee_no"})

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("zaikei_runs.id"))
    employee_no: Mapped[str] = mapped_column(String(10))
    name_kana: Mapped[str] = mapped_column(String(30))
    name_kanji: Mapped[str] = mapped_column(String(20))
    savings_kind: Mapped[str] = mapped_column(String(2))
    change_kind: Mapped[str] = mapped_column(String(2))
    amount_before: Mapped[int] = mapped_column(Integer)
    amount_after: Mapped[int] = mapped_column(Integer)


TABLES = (ZaikeiRun.__table__, ZaikeiDetail.__table__, ZaikeiChange.__table__)
