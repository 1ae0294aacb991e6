"""A user's password check as every screen does it: row lock, lockout counters, audit, and the lock
and block mails (AUTH-1, AUTH-2)."""

from __future__ import annotations

from pyramid.request import Request

from core import audit
from core.auth import lockout
from core.auth.lockout import Outcome
from core.db.models import Role, User
from core.mail.notify import notify_user
from core.security.sessions import end_sessions_of

LOCK_MINUTES = int(lockout.LOCK_DURATION.total_seconds() // 60)


def check_user_password(
    request: Request, user: User, password: str, *, action: str
) -> tuple[User, Outcome]:
    """Check ``password`` for ``user`` under a row lock; return the locked row and the outcome.

    A failure that locks or blocks the user mails it; a block also ends the user's sessions.
    ``action`` names the audit event (e.g. ``login.password``).
    """
    db = request.dbsession
    row = lockout.lock_row(db, User, user.id)
    outcome = lockout.check(row, lockout.USER_PASSWORD, password, request.registry.cjs_clock())
    contract_no = row.contract.contract_no
    audit.record(
        db,
        action,
        actor=row.user_id,
        target=row.user_id,
        contract_no=contract_no,
        result="success" if outcome == Outcome.OK else "failure",
        request=request,
        details={"outcome": str(outcome)},
    )
    if outcome == Outcome.LOCKED_NOW:
        audit.record(
            db,
            "user.lock",
            actor="system",
            actor_kind="system",
            target=row.user_id,
            contract_no=contract_no,
            request=request,
        )
        notify_user(
            request, row, "locked", locked_until=row.locked_until, lock_minutes=LOCK_MINUTES
        )
    elif outcome == Outcome.BLOCKED_NOW:
        audit.record(
            db,
            "user.block",
            actor="system",
            actor_kind="system",
            target=row.user_id,
            contract_no=contract_no,
            request=request,
        )
        end_sessions_of(db, row.id)
        notify_user(request, row, "blocked", is_master=row.role == Role.MASTER)
    return row, outcome
