"""Password checks with lockout (AUTH-1): 6 consecutive failures lock for 60 minutes, the 3rd lock
blocks until an administrator resets it.

The counters live in the row of the credential (a user's or a staff member's password, or a
contract's initial password)
and are read and written under a row lock (``SELECT … FOR UPDATE``; SQLite serialises writers with
``BEGIN IMMEDIATE``), so concurrent wrong passwords from several processes never lose a count. While
locked or blocked even the right password is refused, not counted, and the answer is the same
whatever the password was.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.passwords import hash_password, verify_password
from core.db.models import Contract, StaffMember, User

FAILURES_PER_LOCK = 6
LOCK_DURATION = dt.timedelta(minutes=60)
LOCKS_PER_BLOCK = 3

# A hash to verify against when the user does not exist, so that the answer takes as long.
_DUMMY_HASH = hash_password("dummy-password-for-timing")


class Outcome(enum.StrEnum):
    """What a password check concluded."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED_NOW = "locked_now"  # this failure locked the credential
    BLOCKED_NOW = "blocked_now"  # this failure blocked it
    LOCKED = "locked"  # it was locked already: not checked, not counted
    BLOCKED = "blocked"  # it was blocked already: not checked, not counted


@dataclass(frozen=True)
class Columns:
    """Which columns of a row hold a credential's hash and counters."""

    password_hash: str
    failed_count: str
    lock_count: str
    locked_until: str
    blocked_at: str


USER_PASSWORD = Columns("password_hash", "failed_count", "lock_count", "locked_until", "blocked_at")
INITIAL_PASSWORD = Columns(
    "initial_password_hash",
    "initial_failed_count",
    "initial_lock_count",
    "initial_locked_until",
    "initial_blocked_at",
)


def lock_row(
    dbsession: Session, model: type[User] | type[Contract] | type[StaffMember], pk: int
) -> Any:
    """Load a row under a row lock for the rest of the transaction."""
    return dbsession.scalars(
        select(model)
        .where(model.id == pk)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def state(row: Any, columns: Columns, now: dt.datetime) -> Outcome | None:
    """LOCKED or BLOCKED when the credential refuses every attempt at ``now``, else None."""
    if getattr(row, columns.blocked_at) is not None:
        return Outcome.BLOCKED
    locked_until = getattr(row, columns.locked_until)
    if locked_until is not None and now < locked_until:
        return Outcome.LOCKED
    return None


def check(row: Any, columns: Columns, password: str, now: dt.datetime) -> Outcome:
    """Check ``password`` against a row already locked by :func:`lock_row`; update its counters."""
    refused = state(row, columns, now)
    if refused is not None:
        return refused
    if getattr(row, columns.locked_until) is not None:
        setattr(row, columns.locked_until, None)  # the lock has run out
    if verify_password(getattr(row, columns.password_hash), password):
        setattr(row, columns.failed_count, 0)
        setattr(row, columns.lock_count, 0)
        return Outcome.OK
    failures = getattr(row, columns.failed_count) + 1
    if failures < FAILURES_PER_LOCK:
        setattr(row, columns.failed_count, failures)
        return Outcome.WRONG
    setattr(row, columns.failed_count, 0)
    locks = getattr(row, columns.lock_count) + 1
    setattr(row, columns.lock_count, locks)
    if locks >= LOCKS_PER_BLOCK:
        setattr(row, columns.blocked_at, now)
        return Outcome.BLOCKED_NOW
    setattr(row, columns.locked_until, now + LOCK_DURATION)
    return Outcome.LOCKED_NOW


def check_unknown(password: str) -> Outcome:
    """The answer for an unknown user ID: as slow as a real check, and simply wrong."""
    verify_password(_DUMMY_HASH, password)
    return Outcome.WRONG


def reset(row: Any, columns: Columns) -> None:
    """An administrator's reset (正常): clears the lock, the block and both counters."""
    for name in (columns.failed_count, columns.lock_count):
        setattr(row, name, 0)
    for name in (columns.locked_until, columns.blocked_at):
        setattr(row, name, None)


class OwnPasswordChange(enum.StrEnum):
    """What a user's (or staff member's) change of their own password concluded."""

    CHANGED = "changed"
    WRONG_CURRENT = "wrong_current"  # the current password was wrong (counted, AUTH-1)
    SAME_AS_CURRENT = "same_as_current"  # the new password is the current one
    SIGNED_OUT = "signed_out"  # this wrong current password locked or blocked: end the session


def change_own_password(
    check: Callable[[str], tuple[Any, Outcome]], current: str, new: str, now: dt.datetime
) -> tuple[OwnPasswordChange, Any]:
    """パスワード変更 (FLOW-3, FLOW-6, and the staff's own): ``check`` the current password with
    the account's lockout (it returns the row and the outcome); when it is right and ``new``
    differs from it, store ``new`` as a permanent password changed at ``now``. Returns what
    happened and the row; the caller audits and answers."""
    row, outcome = check(current)
    if outcome in {Outcome.LOCKED_NOW, Outcome.BLOCKED_NOW}:
        return OwnPasswordChange.SIGNED_OUT, row
    if outcome != Outcome.OK:
        return OwnPasswordChange.WRONG_CURRENT, row
    if verify_password(row.password_hash, new):
        return OwnPasswordChange.SAME_AS_CURRENT, row
    row.password_hash = hash_password(new)
    row.password_is_temporary = False
    row.password_changed_at = now
    return OwnPasswordChange.CHANGED, row
