"""The accounts a sign-in pipeline authenticates (AUTH-8): one interface, one provider per app.

The steps ``client_cert`` and ``password`` (``auth_backends``) are the same in both applications;
what they authenticate comes from the application's :class:`IAccountDirectory`: the customer app's
contract users and their certificates (:class:`CustomerAccounts`), the staff app's staff members and
their certificates of the CA's staff profile (``core.staff.accounts``). Each application registers
exactly one, so a certificate or an ID of the other kind is simply unknown there (fail closed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from zope.interface import Attribute, Interface, implementer

from core.auth.lockout import Outcome
from core.auth.user_password import IUserPasswordCheck
from core.db.models import User
from core.security.policy import certificate_for, certificate_problem

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request


class IAccountDirectory(Interface):
    """The accounts of an application, as its sign-in steps see them."""

    actor_kind = Attribute("How the audit log names these accounts: 'user' or 'bank'.")
    messages = Attribute(
        "Texts replacing the steps' own, by key (a certificate problem, 'locked', 'blocked')."
    )

    def certificate(request):
        """The row of the certificate ``request`` presents, if this application accepts its kind."""

    def certificate_problem(certificate, now):
        """Why ``certificate`` cannot sign in (unknown, revoked, expired, blocked), or None."""

    def holder_pk(certificate):
        """The primary key of the account ``certificate`` belongs to."""

    def account(pk):
        """The account with primary key ``pk`` that may still sign in (not deleted), or None."""

    def account_by_login(login_id):
        """The account whose ID is ``login_id`` (typed on a screen), or None."""

    def check_password(account, password, *, action):
        """Check ``password`` with lockout (AUTH-1); return the locked row and the Outcome."""


@implementer(IAccountDirectory)
class CustomerAccounts:
    """The customer app's contract users (deleted ones cannot sign in)."""

    actor_kind = "user"
    messages: Mapping[str, str] = {}

    def __init__(self, request: Request) -> None:
        self.request = request

    def certificate(self, request: Request) -> Any:
        return certificate_for(request)

    def certificate_problem(self, certificate: Any, now: dt.datetime) -> str | None:
        return certificate_problem(certificate, now)

    def holder_pk(self, certificate: Any) -> int:
        return int(certificate.user_pk)

    def account(self, pk: int) -> User | None:
        user = self.request.dbsession.get(User, pk)
        return user if user is not None and user.deleted_at is None else None

    def account_by_login(self, login_id: str) -> User | None:
        return self.request.dbsession.scalars(
            select(User).where(User.user_id == login_id, User.deleted_at.is_(None))
        ).one_or_none()

    def check_password(self, account: User, password: str, *, action: str) -> tuple[User, Outcome]:
        return self.request.find_service(IUserPasswordCheck).check(account, password, action=action)


def includeme(config: Configurator) -> None:
    """Register :class:`CustomerAccounts` as the customer app's :class:`IAccountDirectory`."""
    config.register_service_factory(
        lambda _context, request: CustomerAccounts(request), IAccountDirectory
    )
