"""The bank staff's roles and what each may do.

A staff account holds one or more roles; it may do what any of them permits. The roles follow the
paper form's stamps (seed 003): the operator (取扱者) receives and files a request, the approver
(検印者) checks the seal and approves it, the administrator manages staff accounts. Four-eyes is not
a role matter: an approver who filed a request may still not approve it (``core.staff`` requests).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from core.hookspecs import StaffPermission


class StaffRole(enum.StrEnum):
    """A role a staff account may hold."""

    OPERATOR = "operator"
    APPROVER = "approver"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        """The role's Japanese name, as the console shows it."""
        return ROLE_LABELS[self]


ROLE_LABELS: dict[StaffRole, str] = {
    StaffRole.OPERATOR: "取扱者",
    StaffRole.APPROVER: "検印者",
    StaffRole.ADMINISTRATOR: "管理者",
}

ROLE_PERMISSIONS: dict[StaffRole, frozenset[StaffPermission]] = {
    StaffRole.OPERATOR: frozenset(
        {
            StaffPermission.USE,
            StaffPermission.REQUEST_FILE,
            StaffPermission.CONTRACTS_MANAGE,
            StaffPermission.CONTENT_MANAGE,
            StaffPermission.AUDIT_READ,
        }
    ),
    StaffRole.APPROVER: frozenset(
        {StaffPermission.USE, StaffPermission.REQUEST_APPROVE, StaffPermission.AUDIT_READ}
    ),
    StaffRole.ADMINISTRATOR: frozenset(
        {StaffPermission.USE, StaffPermission.STAFF_MANAGE, StaffPermission.AUDIT_READ}
    ),
}


def parse_roles(text: str) -> frozenset[StaffRole]:
    """The roles named in ``text`` (comma-separated); ValueError names an unknown one."""
    roles = set()
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        try:
            roles.add(StaffRole(name))
        except ValueError:
            raise ValueError(f"unknown staff role {name!r}") from None
    return frozenset(roles)


def permissions_of(roles: Iterable[StaffRole]) -> frozenset[StaffPermission]:
    """Every permission any of ``roles`` grants."""
    granted: set[StaffPermission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)
