"""The demo's information-screen data (#13 item 5, BANK-6): loaded through the bank's loaders, every
part of DC671101 has something to show, and preparing the demo again changes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.bank import messages, schedules
from core.cli.demo import demo_contracts
from core.cli.demo_information import seed_demo_information
from core.db.models import Contract, DeductionSchedule, Message

NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)  # noon in Japan


def _snapshot(dbsession):
    dbsession.rollback()
    return [
        [
            tuple(getattr(row, c.key) for c in model.__table__.columns)
            for row in dbsession.scalars(select(model).order_by(model.id))
        ]
        for model in (Message, DeductionSchedule)
    ]


def test_the_demo_has_schedules_and_messages_for_each_contract(bank, db_url, dbsession):
    """Each deduction group has past, 入力中 and future months of each cycle; the messages reach
    their audiences, and the withdrawn one nobody."""
    lines = seed_demo_information({"sqlalchemy.url": db_url}, demo_contracts(), NOW)
    assert lines == ["messages: 7 row(s) loaded", "schedules: 24 row(s) loaded"]

    member, employer = (
        dbsession.scalars(select(Contract).where(Contract.contract_no == n)).one()
        for n in ("10000001", "20000001")
    )
    for group in member.deposit_groups:
        table = schedules.current_rows(dbsession, group, NOW)
        assert [[row.state for row in rows] for _, rows in table] == [
            ["締切中", "入力中"],
            ["締切中", "入力中"],
            ["締切中", "入力中"],
        ]
        months = dbsession.scalars(
            select(DeductionSchedule).where(DeductionSchedule.deposit_group_id == group.id)
        ).all()
        assert (
            sum(schedules.input_open(m, NOW) for m in months) > 3
        )  # and future months beyond the 入力中 ones
    assert schedules.current_rows(dbsession, employer.deposit_groups[0], NOW)[0][1] == []

    def seen(contract, group):
        return [m.message_no for m in messages.visible_messages(dbsession, contract, group, NOW)]

    assert seen(member, member.deposit_groups[0]) == ["DEMO01", "DEMO02", "DEMO04"]
    assert seen(member, member.deposit_groups[1]) == ["DEMO01", "DEMO02", "DEMO04", "DEMO05"]
    assert seen(employer, employer.deposit_groups[0]) == ["DEMO01", "DEMO03", "DEMO06"]


def test_preparing_the_demo_again_the_same_day_changes_nothing(bank, db_url, dbsession):
    seed_demo_information({"sqlalchemy.url": db_url}, demo_contracts(), NOW)
    first = _snapshot(dbsession)
    seed_demo_information({"sqlalchemy.url": db_url}, demo_contracts(), NOW + dt.timedelta(hours=5))
    assert _snapshot(dbsession) == first
