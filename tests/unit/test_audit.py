"""The audit log records who, what, target, contract, result and request, never a secret."""

from __future__ import annotations

import pytest
from factories import ContractFactory
from sqlalchemy import select

from core import audit
from core.db import make_engine, make_session_factory
from core.db.models import AuditEvent


def test_an_event_commits_with_its_change_and_rolls_back_with_it(db_url, dbsession):
    engine = make_engine(db_url)
    session = make_session_factory(engine)()
    contract = ContractFactory(contract_no="12345678")
    session.add(contract)
    audit.record(
        session,
        "bank.contract.create",
        actor="staff01",
        actor_kind="bank",
        target="12345678",
        contract_no="12345678",
    )
    session.rollback()
    assert dbsession.scalars(select(AuditEvent)).all() == []
    dbsession.rollback()  # end the read snapshot (SQLite keeps one per transaction)

    session.add(ContractFactory(contract_no="12345678"))
    audit.record(
        session,
        "bank.contract.create",
        actor="staff01",
        actor_kind="bank",
        target="12345678",
        contract_no="12345678",
        details={"reason": "new"},
    )
    session.commit()
    session.close()
    engine.dispose()
    event = dbsession.scalars(select(AuditEvent)).one()
    assert (event.actor, event.action, event.contract_no, event.result) == (
        "staff01",
        "bank.contract.create",
        "12345678",
        "success",
    )
    assert event.details == {"reason": "new"}
    assert event.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "new_password",
        "initial_password",
        "code",
        "auth_code",
        "pin",
        "ca_passphrase",
        "session_token",
        "private_key",
        "p12",
    ],
)
def test_details_that_may_hold_a_secret_are_refused(dbsession, name):
    with pytest.raises(audit.SecretInAuditError):
        audit.record(dbsession, "login", actor="user01", details={name: "x"})
    assert len(dbsession.new) == 0


def test_ordinary_details_are_accepted(dbsession):
    event = audit.record(
        dbsession,
        "user.update",
        actor="master1",
        details={"module_code": "wage_ledger", "keyboard": "software"},
    )
    assert event.details["module_code"] == "wage_ledger"


def test_result_is_one_of_success_failure_refused(dbsession):
    with pytest.raises(ValueError, match="result must be one of"):
        audit.record(dbsession, "login", actor="user01", result="ok")


def test_request_id_and_client_address_come_from_the_request(testapp, dbsession):
    from pyramid.request import Request

    request = Request.blank("/", remote_addr="192.0.2.7")
    request.registry = testapp.app.registry
    request.request_id = "abc123"
    event = audit.record(dbsession, "login", actor="user01", request=request)
    assert (event.request_id, event.client_addr) == ("abc123", "192.0.2.7")
