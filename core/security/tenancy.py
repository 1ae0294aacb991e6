"""The deposit group a session works in (DC590101), always one of the user's own contract."""

from __future__ import annotations

from pyramid.request import Request

from core.db.models import DepositGroup

GROUP_KEY = "group_id"


def selected_group(request: Request) -> DepositGroup | None:
    """The deposit group selected in this session, if it belongs to the user's contract."""
    identity = request.identity
    group_id = request.session.get(GROUP_KEY)
    if identity is None or group_id is None:
        return None
    group = request.dbsession.get(DepositGroup, group_id)
    if group is None or group.contract_id != identity.user.contract_id:
        return None
    return group
