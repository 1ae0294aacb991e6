"""Model behaviours a user would notice, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import DateTime, column, select, table
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from core.db.models import AuditEvent, Contract, ContractKind, Role, User
from core.timefmt import JST


def _contract(contract_no: str = "00000001", **values: object) -> Contract:
    return Contract(
        contract_no=contract_no,
        kind=ContractKind.MEMBER,
        organisation_name="ろうきん労働組合",
        initial_password_hash="$argon2id$placeholder",
        **values,
    )


def _user(contract: Contract, user_id: str) -> User:
    return User(
        contract=contract,
        user_id=user_id,
        role=Role.GENERAL,
        name="労金　五郎",
        email="goro@example.jp",
        password_hash="$argon2id$placeholder",
    )


def test_times_come_back_as_aware_utc(dbsession: Session) -> None:
    """A Japan-time instant is stored as UTC and read back as the same instant, in UTC."""
    locked_until = dt.datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=JST)
    dbsession.add(_contract(initial_locked_until=locked_until))
    dbsession.commit()
    dbsession.expunge_all()

    contract = dbsession.scalars(select(Contract)).one()

    assert contract.initial_locked_until == locked_until
    assert contract.initial_locked_until is not None
    assert contract.initial_locked_until.tzinfo is dt.UTC
    assert contract.initial_locked_until.hour == 0
    assert contract.created_at.tzinfo is dt.UTC
    stored = dbsession.scalar(
        select(column("initial_locked_until", DateTime())).select_from(table("contracts"))
    )
    assert stored == dt.datetime(2026, 4, 1, 0, 30, 15, 123456)  # naive UTC in the database


def test_naive_times_are_refused(dbsession: Session) -> None:
    """A time without a zone is ambiguous (JST or UTC?): storing it fails instead of guessing."""
    dbsession.add(_contract(initial_locked_until=dt.datetime(2026, 4, 1, 9, 30)))

    with pytest.raises(StatementError, match="naive datetime"):
        dbsession.commit()
    dbsession.rollback()
    assert dbsession.scalars(select(Contract)).all() == []


def test_contract_numbers_are_unique(dbsession: Session) -> None:
    """BANK-1: a contract number identifies one contract."""
    dbsession.add(_contract("00000001"))
    dbsession.commit()
    dbsession.add(_contract("00000001"))

    with pytest.raises(IntegrityError):
        dbsession.commit()
    dbsession.rollback()


def test_user_ids_are_unique_in_the_whole_system(dbsession: Session) -> None:
    """ACC-1: a user ID is unique across contracts, not only within one."""
    first, second = _contract("00000001"), _contract("00000002")
    dbsession.add_all([_user(first, "rokin01")])
    dbsession.commit()
    dbsession.add(_user(second, "rokin01"))

    with pytest.raises(IntegrityError):
        dbsession.commit()
    dbsession.rollback()


def test_user_ids_differing_in_case_are_different_users(dbsession: Session) -> None:
    """ACC-1: user IDs are case-sensitive, so the database must not fold case."""
    contract = _contract()
    dbsession.add_all([_user(contract, "rokin01"), _user(contract, "ROKIN01")])
    dbsession.commit()

    found = dbsession.scalars(select(User.user_id).where(User.user_id == "ROKIN01")).all()
    assert found == ["ROKIN01"]


def test_the_orm_refuses_to_change_or_delete_an_audit_event(dbsession: Session) -> None:
    """§5: every action is audited with who and when; the record cannot be altered afterwards."""
    event = AuditEvent(actor="rokin01", actor_kind="user", action="login", result="success")
    dbsession.add(event)
    dbsession.commit()
    assert event.occurred_at.tzinfo is dt.UTC
    assert event.details == {}

    event.result = "failure"
    with pytest.raises(PermissionError, match="append-only"):
        dbsession.commit()
    dbsession.rollback()

    dbsession.delete(event)
    with pytest.raises(PermissionError, match="append-only"):
        dbsession.commit()
    dbsession.rollback()

    dbsession.expunge_all()
    assert dbsession.scalars(select(AuditEvent.result)).all() == ["success"]
