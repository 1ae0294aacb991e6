"""What the module does, request-free: the same functions serve its screens, its outputs, its staff
screen, its daily job, its command, its loader and its enablement notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cjs_example_module.models import ExampleNote
from core.db.models import Contract, DepositGroup

CODE = "example_notes"
#: The 操作ログ action of a note written by a user.
CREATE_ACTION = f"{CODE}.note.create"
#: ``created_by`` of notes the bank wrote (loaded files, enablement notices).
BANK = "bank"


def notes_of(dbsession: Session, deposit_group: DepositGroup) -> Sequence[ExampleNote]:
    """The group's notes, newest first."""
    return dbsession.scalars(
        select(ExampleNote)
        .where(ExampleNote.deposit_group_id == deposit_group.id)
        .order_by(ExampleNote.created_at.desc(), ExampleNote.id.desc())
    ).all()


def add_note(
    dbsession: Session,
    deposit_group: DepositGroup,
    *,
    title: str,
    amount: int,
    created_by: str,
    now: dt.datetime,
) -> ExampleNote:
    """Write a note in ``dbsession``'s transaction."""
    note = ExampleNote(
        deposit_group_id=deposit_group.id,
        title=title,
        amount=amount,
        created_by=created_by,
        created_at=now,
    )
    dbsession.add(note)
    return note


def counts_by_group(dbsession: Session) -> list[tuple[str, str, int]]:
    """(contract number, group number, notes) for every group that has notes."""
    rows = dbsession.execute(
        select(Contract.contract_no, DepositGroup.group_no, func.count(ExampleNote.id))
        .join(DepositGroup, DepositGroup.id == ExampleNote.deposit_group_id)
        .join(Contract, Contract.id == DepositGroup.contract_id)
        .group_by(Contract.contract_no, DepositGroup.group_no)
        .order_by(Contract.contract_no, DepositGroup.group_no)
    ).all()
    return [(contract_no, group_no, count) for contract_no, group_no, count in rows]


def purge(dbsession: Session, *, now: dt.datetime, keep_days: int) -> int:
    """Delete the notes older than ``keep_days``; running it again deletes nothing more."""
    result = dbsession.execute(
        delete(ExampleNote).where(ExampleNote.created_at < now - dt.timedelta(days=keep_days))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
