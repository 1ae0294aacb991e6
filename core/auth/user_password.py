"""A user's password check as every screen does it: row lock, lockout counters, audit, and the lock
and block mails (AUTH-1, AUTH-2).

:class:`UserPasswordCheck` takes its session, clock, outbox and audit origin explicitly; a request
gets one with ``request.find_service(IUserPasswordCheck)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zope.interface import Interface, implementer

from core import audit
from core.auth import lockout
from core.auth.lockout import Outcome
from core.clock import Clock, get_clock
from core.db.models import Role, User
from core.mail.interfaces import IOutbox
from core.mail.services import DatabaseOutbox
from core.security.sessions import end_sessions_of

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request
    from sqlalchemy.orm import Session

LOCK_MINUTES = int(lockout.LOCK_DURATION.total_seconds() // 60)


class IUserPasswordCheck(Interface):
    """The password check of a contract user (login, issuance, password change)."""

    def check(user, password, *, action):
        """Check ``password`` for ``user``; return the locked row and the outcome."""


@implementer(IUserPasswordCheck)
class UserPasswordCheck:
    """Checks passwords in ``dbsession`` at ``clock``'s time, mailing through ``outbox``."""

    def __init__(
        self,
        dbsession: Session,
        *,
        clock: Clock,
        outbox: DatabaseOutbox,
        origin: audit.Origin | None = None,
    ) -> None:
        self.dbsession = dbsession
        self.clock = clock
        self.outbox = outbox
        self.origin = origin

    def check(self, user: User, password: str, *, action: str) -> tuple[User, Outcome]:
        """Check ``password`` for ``user`` under a row lock; return the locked row and the outcome.

        A failure that locks or blocks the user mails it; a block also ends the user's sessions.
        ``action`` names the audit event (e.g. ``login.password``).
        """
        db = self.dbsession
        row = lockout.lock_row(db, User, user.id)
        outcome = lockout.check(row, lockout.USER_PASSWORD, password, self.clock())
        contract_no = row.contract.contract_no
        audit.record(
            db,
            action,
            actor=row.user_id,
            target=row.user_id,
            contract_no=contract_no,
            result="success" if outcome == Outcome.OK else "failure",
            request=self.origin,
            details={"outcome": str(outcome)},
        )
        if outcome == Outcome.LOCKED_NOW:
            self._system_event("user.lock", row)
            self.outbox.notify_user(
                row, "locked", locked_until=row.locked_until, lock_minutes=LOCK_MINUTES
            )
        elif outcome == Outcome.BLOCKED_NOW:
            self._system_event("user.block", row)
            end_sessions_of(db, row.id)
            self.outbox.notify_user(row, "blocked", is_master=row.role == Role.MASTER)
        return row, outcome

    def _system_event(self, action: str, row: User) -> None:
        audit.record(
            self.dbsession,
            action,
            actor="system",
            actor_kind="system",
            target=row.user_id,
            contract_no=row.contract.contract_no,
            request=self.origin,
        )


def password_check_for_request(_context: Any, request: Request) -> UserPasswordCheck:
    """The request's password check: its session, the app's clock, its outbox, its origin."""
    return UserPasswordCheck(
        request.dbsession,
        clock=get_clock(request.registry),
        outbox=request.find_service(IOutbox),
        origin=audit.Origin.of(request),
    )


def includeme(config: Configurator) -> None:
    """Register :class:`IUserPasswordCheck` for requests."""
    config.register_service_factory(password_check_for_request, IUserPasswordCheck)
