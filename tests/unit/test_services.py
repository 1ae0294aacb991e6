"""The request-free services (#11 item 3): each provides its interface, and a job, a loader or a
staff screen calls the same operation as a view, with its own session, clock and outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from factories import ContractFactory, DepositGroupFactory, UserFactory
from sqlalchemy import select
from zope.interface.verify import verifyClass

from core.accounts.users import IUserAdministration, NewUser, UserAdministration
from core.auth import lockout
from core.auth.user_password import IUserPasswordCheck, UserPasswordCheck
from core.db.models import AuditEvent, ModuleEnablement, OutboxMessage, Role, User
from core.mail.interfaces import IOutbox
from core.mail.services import DatabaseOutbox
from core.plugins import get_modules
from core.settings import validate

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("interface", "implementation"),
    [
        (IOutbox, DatabaseOutbox),
        (IUserPasswordCheck, UserPasswordCheck),
        (IUserAdministration, UserAdministration),
    ],
)
def test_each_service_provides_its_interface(interface: Any, implementation: type) -> None:
    assert verifyClass(interface, implementation)


def _outbox(dbsession: Any, app_settings: dict[str, str]) -> DatabaseOutbox:
    return DatabaseOutbox(dbsession, validate(app_settings))  # a job's outbox: no sender to wake


def test_a_job_registers_a_general_user_without_a_request(
    app: Any, app_settings: dict[str, str], dbsession: Any
) -> None:
    """FLOW-3 from outside a request: the same rules, audit (no client address) and mail."""
    master = UserFactory(user_id="master90")
    group = DepositGroupFactory(contract=master.contract)
    group.module_enablements.append(ModuleEnablement(module_code="rokin_deduction", options={}))
    dbsession.add_all([master, group])
    dbsession.flush()
    admin = UserAdministration(
        dbsession,
        clock=lambda: NOW,
        outbox=_outbox(dbsession, app_settings),
        modules=get_modules(app.registry),
    )

    user = admin.create_general_user(
        master,
        NewUser(
            user_id="general91",
            name="労金　一郎",
            email="ichiro@example.jp",
            password="Temp#2026x",
            levels={"rokin_deduction": "view_only"},
        ),
    )
    dbsession.commit()

    row = dbsession.scalars(select(User).where(User.user_id == "general91")).one()
    assert row.id == user.id and row.role == Role.GENERAL and row.password_is_temporary
    assert row.password_changed_at == NOW
    assert {r.module_code: r.level for r in row.restrictions} == {"rokin_deduction": "view_only"}
    event = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "user.create")).one()
    assert (event.actor, event.target, event.client_addr) == ("master90", "general91", None)
    mail = dbsession.scalars(select(OutboxMessage)).one()
    assert (mail.kind, mail.to_addr) == ("registered", "ichiro@example.jp")


def test_a_loader_checks_a_password_and_the_lock_mail_is_queued(
    app_settings: dict[str, str], dbsession: Any
) -> None:
    """AUTH-1 outside a request: wrong passwords lock the user and queue the ``locked`` mail."""
    user = UserFactory(contract=ContractFactory(), password="Passw0rd!")
    dbsession.add(user)
    dbsession.flush()
    check = UserPasswordCheck(dbsession, clock=lambda: NOW, outbox=_outbox(dbsession, app_settings))

    assert check.check(user, "Passw0rd!", action="job.password")[1] == lockout.Outcome.OK
    outcomes = [check.check(user, "wrong", action="job.password")[1] for _ in range(10)]
    dbsession.commit()

    assert lockout.Outcome.LOCKED_NOW in outcomes
    mail = dbsession.scalars(select(OutboxMessage)).one()
    assert (mail.kind, mail.to_addr) == ("locked", user.email)
    actions = dbsession.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[0] == "job.password" and "user.lock" in actions


def test_a_plugin_screen_mails_a_user_through_the_request_outbox(app: Any, dbsession: Any) -> None:
    """The plugin API's ``notify_user(request, …)`` writes through the request's IOutbox, in the
    request's transaction."""
    from pyramid.scripting import prepare

    from core.mail.notify import notify_user

    dbsession.add(UserFactory(user_id="plugin01"))
    dbsession.commit()
    env = prepare(registry=app.registry)
    request = env["request"]
    try:
        request.tm.begin()
        user = request.dbsession.scalars(select(User).where(User.user_id == "plugin01")).one()
        notify_user(request, user, "user_unlocked")
        request.tm.commit()
    finally:
        env["closer"]()
    dbsession.rollback()  # a fresh snapshot
    mail = dbsession.scalars(select(OutboxMessage)).one()
    assert (mail.kind, mail.to_addr) == ("user_unlocked", "plugin01@example.jp")
