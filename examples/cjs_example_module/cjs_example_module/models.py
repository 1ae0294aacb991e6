"""The module's one table, declared on the core's ``Base`` so that it may refer to deposit groups and
so that ``cjs db check`` compares it with its migration (``versions/``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, UTCDateTime


class ExampleNote(Base):
    """A note (連絡メモ) of a deposit group: a title and an amount, who wrote it and when."""

    __tablename__ = "example_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deposit_group_id: Mapped[int] = mapped_column(ForeignKey("deposit_groups.id"), index=True)
    title: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(Integer)
    #: A user ID, or ``bank`` for notes loaded from a bank data file or written on enablement.
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
