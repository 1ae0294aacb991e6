"""The contracts and deposit groups the core's bank files name (お知らせ, スケジュール), read once per
file: a loader looks each row's numbers up here instead of querying per row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Contract, DepositGroup


class Organisations:
    """Every contract by number and every deposit group by (contract number, group number)."""

    def __init__(self, dbsession: Session) -> None:
        self.contracts = {c.contract_no: c for c in dbsession.scalars(select(Contract))}
        self.groups = {
            (g.contract.contract_no, g.group_no): g for g in dbsession.scalars(select(DepositGroup))
        }

    def contract(self, contract_no: str) -> Contract | None:
        """The contract numbered ``contract_no``, if any."""
        return self.contracts.get(contract_no)

    def group(self, contract_no: str, group_no: str) -> DepositGroup | None:
        """The deposit group ``group_no`` of contract ``contract_no``, if any."""
        return self.groups.get((contract_no, group_no))
