"""一斉積立's tables (SPEC 6.3): rounds the bank sends, their details per employee, and the change
details of a round (before → after). Every row belongs to one contract and deposit group
(``GroupScoped``): the module reads them only through ``core.security.tenancy.scoped_select``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, UTCDateTime
from core.i18n import _
from core.security.tenancy import GroupScoped, batch_line_indexes
from core.timefmt import kanji_day


class SavingsRound(GroupScoped, Base):
    """A round (回) of collective savings: its number (e.g. 014), name, creation date, and whether the
    bank made it as an extra round (臨時作成) or a regular one."""

    __tablename__ = "collective_savings_rounds"
    __table_args__ = (UniqueConstraint("deposit_group_id", "round_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_no: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(40))
    created_on: Mapped[dt.date] = mapped_column(Date)
    extraordinary: Mapped[bool] = mapped_column(Boolean)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    @property
    def kind_label(self) -> str:
        """臨時作成, or 定例 for a regular round (a message)."""
        return _("臨時作成") if self.extraordinary else _("定例")

    @property
    def created_label(self) -> str:
        """The creation date as the screens write it (a message: 2026年01月05日)."""
        return kanji_day(self.created_on)


class SavingsDetail(GroupScoped, Base):
    """A line of a round's 内訳明細: an employee, their savings account and the amount."""

    __tablename__ = "collective_savings_details"
    # One index per sort of the inquiry (core.inquiry): scope, round, sort, id.
    __table_args__ = batch_line_indexes(
        "collective_savings_details",
        "round_id",
        {"employee": "employee_no", "kana": "name_kana", "amount": "amount"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("collective_savings_rounds.id"))
    employee_no: Mapped[str] = mapped_column(String(10))
    name_kana: Mapped[str] = mapped_column(String(30))
    name_kanji: Mapped[str] = mapped_column(String(20))
    branch_no: Mapped[str] = mapped_column(String(3))
    account_no: Mapped[str] = mapped_column(String(7))
    amount: Mapped[int] = mapped_column(Integer)


class SavingsChange(GroupScoped, Base):
    """A line of a round's 変更明細: what changed for an employee since the previous round."""

    __tablename__ = "collective_savings_changes"
    __table_args__ = batch_line_indexes(
        "collective_savings_changes", "round_id", {"employee": "employee_no"}
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("collective_savings_rounds.id"))
    employee_no: Mapped[str] = mapped_column(String(10))
    name_kana: Mapped[str] = mapped_column(String(30))
    name_kanji: Mapped[str] = mapped_column(String(20))
    branch_no: Mapped[str] = mapped_column(String(3))
    account_no: Mapped[str] = mapped_column(String(7))
    #: 新規, 変更 or 解約 (``core.batches.CHANGE_KINDS``, stored in Japanese).
    change_kind: Mapped[str] = mapped_column(String(2))
    amount_before: Mapped[int] = mapped_column(Integer)
    amount_after: Mapped[int] = mapped_column(Integer)


TABLES = (SavingsRound.__table__, SavingsDetail.__table__, SavingsChange.__table__)
