"""The deposit group a session works in (DC590101), always one of the user's own contract."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyramid.request import Request

from core.db.models import DepositGroup, User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GROUP_KEY = "group_id"


def group_of_contract(dbsession: Session, user: User, group_id: int) -> DepositGroup | None:
    """The deposit group ``group_id`` if it belongs to ``user``'s contract, else None (the tenancy
    rule, for a request, a job or a staff screen alike)."""
    group = dbsession.get(DepositGroup, group_id)
    if group is None or group.contract_id != user.contract_id:
        return None
    return group


def selected_group(request: Request) -> DepositGroup | None:
    """The deposit group selected in this session, if it belongs to the user's contract."""
    identity = request.identity
    group_id = request.session.get(GROUP_KEY)
    if identity is None or group_id is None:
        return None
    return group_of_contract(request.dbsession, identity.user, group_id)
