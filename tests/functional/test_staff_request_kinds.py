"""The kinds of paper request beyond the revocation (#14 item 2, seed 003, seed 001 p.43–45):
マスターユーザーの削除 and the unlock instead (BANK-4), 初期パスワードの変更 and its 閉塞解除 (BANK-3),
ユーザーIDの変更 (BANK-8). For each: the request alone changes nothing, the filer's approval is
refused, another staff member's approval applies it and both are audited, and the customer sees the
effect at the next request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import MASTER, Customer
from sqlalchemy import select

from auth_backends.messages import BLOCKED_INITIAL
from core.db.models import AuditEvent, Contract, FormerUserId, User, WebSession
from tests.staff_requests_support import (
    APPROVER,
    OPERATOR,
    PAPER,
    approve,
    audit_of,
    file_form,
    file_request,
    mails,
    request_row,
)
from tests.staff_requests_support import approver as approver
from tests.staff_requests_support import operator as operator
from tests.staff_requests_support import staff_app as staff_app

NEW_MASTER = {"user_id": "master02", "user_name": "労金　次郎", "email": "jiro@example.com"}
NEW_INITIAL_PASSWORD = "Next#002"
BLOCKED = "閉塞されています"


def four_eyes(operator: Any, approver: Any, dbsession: Any, number: int) -> Any:
    """The filer's approval is refused (the request stays pending), another staff member's
    applies it; both audited. Returns the detail screen after the approval."""
    page = approve(operator, number)
    assert "受付者ご本人は検印できません" in page.text
    assert request_row(dbsession, number).state == "pending"
    page = approve(approver, number)
    assert page.html.find(id="state").text == "承認済み（実施済み）", page.text
    assert audit_of(dbsession, number) == [
        ("staff_request.file", OPERATOR, "bank", "success"),
        ("staff_request.approve", OPERATOR, "bank", "refused"),
        ("staff_request.approve", APPROVER, "bank", "success"),
    ]
    return page


def user(dbsession: Any, user_id: str) -> User:
    dbsession.rollback()
    return dbsession.scalars(select(User).where(User.user_id == user_id)).one()


def contract(dbsession: Any, contract_no: str = MASTER["contract_no"]) -> Contract:
    dbsession.rollback()
    return dbsession.scalars(select(Contract).where(Contract.contract_no == contract_no)).one()


def logged_in(customer: Customer) -> Any:
    """The master registered, its certificate issued, logged in; returns the information screen."""
    customer.register_master()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"], MASTER["email"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    page = customer.login(MASTER["password"])
    return page.forms["groups-form"].submit("group_id", index=0).maybe_follow()


def initial_registration(customer: Customer, initial_password: str) -> Any:
    """DC583101 with the demo contract and ``initial_password``; returns the next screen."""
    page = customer.app.get("/register/master").maybe_follow()
    form = page.forms[0]
    form["contract_no"] = MASTER["contract_no"]
    form["initial_password"] = initial_password
    return form.submit().maybe_follow()


def test_a_master_deleted_on_request_is_registered_again(
    customer: Customer, app: Any, operator: Any, approver: Any, dbsession: Any
) -> None:
    """BANK-4, FLOW-1: マスターユーザーの削除 with the form's 手続依頼事由; the request alone leaves
    the master logged in; once approved the certificate is revoked, the session ends, the general
    users stay, the master is mailed, and the contract registers a new master with its contract
    number and initial password."""
    logged_in(customer)
    from core.accounts.users import NewUser, UserAdministration
    from core.mail.services import DatabaseOutbox
    from core.plugins import get_modules

    users = UserAdministration(
        dbsession,
        clock=lambda: dt.datetime.now(dt.UTC),
        outbox=DatabaseOutbox(dbsession, app.registry.settings),
        modules=get_modules(app.registry),
    )
    users.create_general_user(
        user(dbsession, MASTER["user_id"]),
        NewUser("goro4567", "労金　五郎", "goro@example.com", "Temp#1234", levels={}),
    )
    dbsession.commit()

    page = file_form(operator, "master_delete", MASTER["contract_no"])
    form = page.forms["file-form"]
    for name, value in PAPER.items():
        form[name] = value
    form["deletion_reason"] = "other"
    page = form.submit()  # その他 without its text
    assert page.html.find(id="reason_other-error").text.startswith("「その他」の場合は")
    form = page.forms["file-form"]
    form["deletion_reason"] = "forgotten"
    number = int(form.submit().headers["Location"].rsplit("/", 1)[1])
    assert request_row(dbsession, number).reason == "パスワード失念"

    assert user(dbsession, MASTER["user_id"]).deleted_at is None  # a request alone: nothing
    assert "DC671101" in customer.app.get("/info").text

    four_eyes(operator, approver, dbsession, number)
    old = user(dbsession, MASTER["user_id"])
    assert old.deleted_at is not None
    assert [c.status for c in old.certificates] == ["revoked"]
    assert not dbsession.scalars(select(WebSession).where(WebSession.user_pk == old.id)).all()
    assert user(dbsession, "goro4567").deleted_at is None
    assert mails(dbsession, "user_deleted") == [MASTER["email"]]
    deletion = dbsession.scalars(select(AuditEvent).where(AuditEvent.action == "user.delete")).one()
    assert (deletion.actor, deletion.actor_kind, deletion.details["reason"]) == (
        APPROVER,
        "bank",
        "forgotten",
    )

    assert customer.app.get("/info").maybe_follow().request.path == "/"
    page = Customer.of(app, dbsession).register_master(**NEW_MASTER)
    assert "マスターユーザーの登録を完了しました" in page.text and "master02" in page.text


def test_a_blocked_master_is_unblocked_on_request_instead(
    customer: Customer, operator: Any, approver: Any, dbsession: Any, clock: Any
) -> None:
    """BANK-4 (our design beyond the form), AUTH-2: a blocked master stays blocked while the
    request waits; once approved it logs in again, and is mailed."""
    customer.register_master()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"], MASTER["email"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    master = user(dbsession, MASTER["user_id"])
    master.blocked_at, master.lock_count = clock(), 3
    dbsession.commit()
    assert BLOCKED in customer.app.get("/login").maybe_follow().text  # AUTH-5: not to DC582101

    number = file_request(operator, "master_unlock", MASTER["contract_no"])
    assert request_row(dbsession, number).reason == "閉塞"
    assert BLOCKED in customer.app.get("/login").maybe_follow().text  # a request alone: nothing

    four_eyes(operator, approver, dbsession, number)
    unlocked = user(dbsession, MASTER["user_id"])
    assert (unlocked.blocked_at, unlocked.lock_count) == (None, 0)
    assert mails(dbsession, "user_unlocked") == [MASTER["email"]]
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    assert "groups-form" in customer.login(MASTER["password"]).forms


def test_a_master_that_is_not_blocked_cannot_be_unblocked(
    customer: Customer, operator: Any, dbsession: Any
) -> None:
    """BANK-4: nothing to unblock: the form again with the message, nothing stored."""
    customer.register_master()
    form = file_form(operator, "master_unlock", MASTER["contract_no"]).forms["file-form"]
    for name, value in PAPER.items():
        form[name] = value
    page = form.submit()
    assert "このマスターユーザーはロックも閉塞もされていません。" in page.text
    assert page.forms["file-form"]["phone"].value == PAPER["phone"]
    assert audit_of(dbsession, 1) == []


def test_a_new_initial_password_applies_once_approved(
    customer: Customer, operator: Any, approver: Any, dbsession: Any
) -> None:
    """BANK-3: 初期パスワードの変更 from a new 初期パスワード届出書: bad input is refused at the field
    with the passwords not written back; the request alone changes nothing (the new password is
    refused at DC583101); approved, the new one registers the master and the old one no more."""
    form = file_form(operator, "initial_password_change", MASTER["contract_no"]).forms["file-form"]
    for name, value in PAPER.items():
        form[name] = value
    form["initial_password"] = "short"
    form["initial_password_confirm"] = "other"
    page = form.submit()
    assert page.html.find(id="initial_password-error").text.startswith(
        "初期パスワードは半角英大文字"
    )
    assert "一致しません" in page.html.find(id="initial_password_confirm-error").text
    assert page.forms["file-form"]["initial_password"].value == ""
    assert page.forms["file-form"]["address"].value == PAPER["address"]

    number = file_request(
        operator,
        "initial_password_change",
        MASTER["contract_no"],
        initial_password=NEW_INITIAL_PASSWORD,
        initial_password_confirm=NEW_INITIAL_PASSWORD,
    )
    assert NEW_INITIAL_PASSWORD not in str(request_row(dbsession, number).params)
    page = initial_registration(Customer.of(customer.app.app, dbsession), NEW_INITIAL_PASSWORD)
    assert "契約番号または初期パスワードが正しくありません" in page.text

    four_eyes(operator, approver, dbsession, number)
    assert request_row(dbsession, number).params == {}  # the hash is not kept once applied
    change = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "contract.initial_password.change")
    ).one()
    assert (change.actor, change.actor_kind, change.contract_no) == (APPROVER, "bank", "10000001")
    page = initial_registration(
        Customer.of(customer.app.app, dbsession), MASTER["initial_password"]
    )
    assert "契約番号または初期パスワードが正しくありません" in page.text
    page = Customer.of(customer.app.app, dbsession).register_master(
        initial_password=NEW_INITIAL_PASSWORD
    )
    assert "マスターユーザーの登録を完了しました" in page.text
    assert mails(dbsession, "initial_password_changed") == []  # no master to tell then


def test_a_blocked_initial_password_is_unblocked_once_approved(
    customer: Customer, operator: Any, approver: Any, dbsession: Any, clock: Any
) -> None:
    """BANK-3, AUTH-2: 初期パスワードの閉塞（ロックアウト）解除: DC583101 keeps refusing the blocked
    initial password while the request waits; approved, the master registers."""
    row = contract(dbsession)
    row.initial_blocked_at, row.initial_lock_count = clock(), 3
    dbsession.commit()
    assert BLOCKED_INITIAL in initial_registration(customer, MASTER["initial_password"]).text

    number = file_request(operator, "initial_password_unblock", MASTER["contract_no"])
    fresh = Customer.of(customer.app.app, dbsession)
    assert BLOCKED_INITIAL in initial_registration(fresh, MASTER["initial_password"]).text

    four_eyes(operator, approver, dbsession, number)
    assert contract(dbsession).initial_blocked_at is None
    unblock = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "contract.initial_password.unblock")
    ).one()
    assert (unblock.actor, unblock.details) == (APPROVER, {"state": "blocked"})
    page = Customer.of(customer.app.app, dbsession).register_master()
    assert "マスターユーザーの登録を完了しました" in page.text


def test_a_user_id_changes_on_request_keeping_the_user_its_certificate_and_its_trail(
    customer: Customer, operator: Any, approver: Any, dbsession: Any
) -> None:
    """BANK-8: ユーザーIDの変更: the request alone changes nothing; approved, the same user row has
    the new ID (its certificate still logs in, now under the new ID), its open session ends, the old
    ID is kept as a former ID and never given again, the audit trail links both, and the user is
    mailed."""
    logged_in(customer)
    before = user(dbsession, MASTER["user_id"])
    number = file_request(
        operator,
        "user_id_change",
        MASTER["contract_no"],
        target_user=MASTER["user_id"],
        new_user_id="master99",
    )
    assert user(dbsession, MASTER["user_id"]).id == before.id  # a request alone: nothing
    assert "DC671101" in customer.app.get("/info").text

    four_eyes(operator, approver, dbsession, number)
    after = user(dbsession, "master99")
    assert (after.id, [c.status for c in after.certificates]) == (before.id, ["valid"])
    former = dbsession.scalars(select(FormerUserId)).one()
    assert (former.user_pk, former.user_id) == (before.id, MASTER["user_id"])
    change = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.change_id")
    ).one()
    assert (change.actor, change.target, change.details) == (
        APPROVER,
        "master99",
        {"old_user_id": "master01"},
    )
    assert dbsession.scalars(  # the old events stay as they were, under the old ID
        select(AuditEvent).where(
            AuditEvent.target == "master01", AuditEvent.action == "login.success"
        )
    ).all()
    assert mails(dbsession, "user_id_changed") == [MASTER["email"]]

    assert customer.app.get("/info").maybe_follow().request.path == "/"  # the session ended
    page = customer.login(MASTER["password"])
    page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert "master99" in page.text

    form = file_form(operator, "user_id_change", MASTER["contract_no"]).forms["file-form"]
    for name, value in PAPER.items():
        form[name] = value
    form["target_user"] = "master99"
    form["new_user_id"] = "master01"  # the former ID: never given again (ACC-1)
    page = form.submit()
    assert page.html.find(id="new_user_id-error").text.startswith(
        "このユーザーIDは既に使用されています"
    )
