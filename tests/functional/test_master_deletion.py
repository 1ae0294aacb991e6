"""マスターユーザーの削除 (#14 item 2, BANK-4) and the master registered again (FLOW-1).

The bank deletes a contract's master through :meth:`UserAdministration.delete_master`, the service
the staff application will call once a request is approved (no staff screen yet): the master's
certificate is revoked, its sessions end, its general users stay, and the contract registers a new
master with its contract number and initial password. The deleted master's row and audit trail stay;
the database still refuses a second live master.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MASTER, Customer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.accounts.users import MasterDeletionReason, NewUser, NotAllowed, UserAdministration
from core.db.models import AuditEvent, OutboxMessage, Role, User, WebSession
from core.mail.services import DatabaseOutbox
from core.plugins import get_modules
from core.settings import validate

NEW_MASTER = {"user_id": "master02", "user_name": "労金　次郎", "email": "jiro@example.com"}


def staff_service(app: Any, app_settings: dict[str, str], dbsession: Any, clock: Any) -> Any:
    """The user administration as the staff application builds it: its own session and outbox."""
    return UserAdministration(
        dbsession,
        clock=clock,
        outbox=DatabaseOutbox(dbsession, validate(app_settings)),
        modules=get_modules(app.registry),
    )


def user_row(dbsession: Any, user_id: str) -> User:
    dbsession.rollback()  # a fresh snapshot of what the app committed
    return dbsession.scalars(select(User).where(User.user_id == user_id)).one()


def log_in(customer: Customer, user_id: str, password: str, email: str) -> Any:
    """FLOW-2 then FLOW-4; returns the page after the password (a deposit group chosen)."""
    data, _ = customer.issue(user_id, password, email)
    customer.app.reset()
    customer.use_certificate(data, password)
    page = customer.login(password)
    if "groups-form" in page.forms:
        page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    return page


def test_a_master_deleted_by_the_bank_is_registered_again(
    customer: Customer, app: Any, app_settings: dict[str, str], dbsession: Any, clock: Any
) -> None:
    """#14 item 2, BANK-4, FLOW-1: the bank deletes the master (certificate revoked, sessions
    ended, general users kept); the contract registers a new master with its contract number and
    initial password; the old master's row and audit trail stay."""
    customer.register_master()
    assert (
        "DC671101" in log_in(customer, MASTER["user_id"], MASTER["password"], MASTER["email"]).text
    )
    staff = staff_service(app, app_settings, dbsession, clock)
    master = user_row(dbsession, MASTER["user_id"])
    staff.create_general_user(
        master, NewUser("goro4567", "労金　五郎", "goro@example.com", "Temp#1234", levels={})
    )
    dbsession.commit()

    master = user_row(dbsession, MASTER["user_id"])
    revoked = staff.delete_master(master, staff_id="staff01", reason=MasterDeletionReason.FORGOTTEN)
    dbsession.commit()

    old = user_row(dbsession, MASTER["user_id"])
    assert old.deleted_at is not None and old.role == Role.MASTER
    assert [(c.serial, c.status, c.revocation_reason) for c in old.certificates] == [
        (revoked[0], "revoked", "privilegeWithdrawn")
    ]
    sessions = select(func.count()).select_from(WebSession).where(WebSession.user_pk == old.id)
    assert dbsession.scalar(sessions) == 0
    assert user_row(dbsession, "goro4567").deleted_at is None  # general users kept
    # The old master's browser is out at its next request, and its certificate logs in no more.
    assert customer.app.get("/info").maybe_follow().request.path == "/"
    assert "失効しています" in customer.app.get("/login").maybe_follow().text

    page = Customer.of(app, dbsession).register_master(**NEW_MASTER)
    assert "マスターユーザーの登録を完了しました" in page.text and "master02" in page.text

    dbsession.rollback()
    masters = dbsession.scalars(
        select(User).where(User.contract_id == old.contract_id, User.role == Role.MASTER)
    ).all()
    assert [(u.user_id, u.deleted_at is None) for u in masters] == [
        ("master01", False),
        ("master02", True),
    ]
    deletion = dbsession.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "user.delete", AuditEvent.target == "master01"
        )
    ).one()
    assert (deletion.actor, deletion.actor_kind) == ("staff01", "bank")
    assert deletion.details == {
        "role": "master",
        "reason": "forgotten",
        "revoked": revoked,
    }
    trail = set(dbsession.scalars(select(AuditEvent.action).where(AuditEvent.target == "master01")))
    assert {"register.master", "login.success", "cert.revoke", "user.delete"} <= trail
    mailed = dbsession.scalars(
        select(OutboxMessage.to_addr).where(OutboxMessage.kind == "user_deleted")
    ).all()
    assert mailed == [MASTER["email"]]


def test_a_second_live_master_is_refused_by_the_screen_and_by_the_database(
    customer: Customer, app: Any, app_settings: dict[str, str], dbsession: Any, clock: Any
) -> None:
    """#14 item 2, BANK-4, FLOW-1: after a deletion and a new registration the rule is one live
    master again: DC583101 refuses the contract, and the database refuses a row added past it."""
    customer.register_master()
    staff = staff_service(app, app_settings, dbsession, clock)
    staff.delete_master(
        user_row(dbsession, MASTER["user_id"]),
        staff_id="staff01",
        reason=MasterDeletionReason.LOCKED_OUT,
    )
    dbsession.commit()
    Customer.of(app, dbsession).register_master(**NEW_MASTER)

    page = Customer.of(app, dbsession).app.get("/register/master").maybe_follow()  # DC583101
    form = page.forms[0]
    form["contract_no"] = MASTER["contract_no"]
    form["initial_password"] = MASTER["initial_password"]
    page = form.submit().maybe_follow()
    assert "マスターユーザーは登録済みです" in page.text and "DC583101" in page.text
    new = user_row(dbsession, "master02")
    dbsession.add(
        User(
            contract_id=new.contract_id,
            user_id="master03",
            role=Role.MASTER,
            name="労金　三郎",
            email="saburo@example.com",
            password_hash="x",
        )
    )
    with pytest.raises(IntegrityError):
        dbsession.flush()


def test_delete_master_refuses_a_general_user_and_a_master_already_deleted(
    customer: Customer, app: Any, app_settings: dict[str, str], dbsession: Any, clock: Any
) -> None:
    """#14 item 2, BANK-4: the service deletes masters only (the master deletes general users),
    and once."""
    customer.register_master()
    staff = staff_service(app, app_settings, dbsession, clock)
    master = user_row(dbsession, MASTER["user_id"])
    general = staff.create_general_user(
        master, NewUser("goro4567", "労金　五郎", "goro@example.com", "Temp#1234", levels={})
    )
    with pytest.raises(NotAllowed):
        staff.delete_master(general, staff_id="staff01", reason=MasterDeletionReason.OTHER)
    staff.delete_master(master, staff_id="staff01", reason=MasterDeletionReason.OTHER)
    with pytest.raises(NotAllowed, match="既に削除されています"):
        staff.delete_master(master, staff_id="staff01", reason=MasterDeletionReason.OTHER)
    assert general.deleted_at is None
