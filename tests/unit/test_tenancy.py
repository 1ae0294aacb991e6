"""The tenancy rule outside a request: a deposit group is found only for a user of its contract."""

from __future__ import annotations

from typing import Any

from factories import DepositGroupFactory, UserFactory

from core.security.tenancy import group_of_contract


def test_a_group_is_found_only_for_a_user_of_its_contract(dbsession: Any) -> None:
    group = DepositGroupFactory()
    own = UserFactory(contract=group.contract)
    stranger = UserFactory()
    dbsession.add_all([group, own, stranger])
    dbsession.flush()

    assert group_of_contract(dbsession, own, group.id) is group
    assert group_of_contract(dbsession, stranger, group.id) is None
    assert group_of_contract(dbsession, own, group.id + 1000) is None
