"""Staff accounts (#14, AUTH-1, AUTH-2, AUTH-8): the staff app's accounts for the sign-in steps,
and what an administrator (or ``cjs staff create``) does to them.

:class:`StaffAccounts` is the staff app's :class:`~core.auth.accounts.IAccountDirectory`: only a
certificate of the CA's staff profile that is recorded in ``staff_certificates`` counts; the
password is checked with the customers' lockout (``core.auth.lockout``: the counters in the row,
under a row lock).

The changes below are called in the caller's transaction (a request's, or the command's); none
commits. Each is audited with ``actor_kind="bank"``.

**The last administrator** (decided here): no change may leave the service without an *active*
administrator — an account holding the administrator role, neither locked by an administrator nor
blocked nor disabled, with a valid certificate. Taking the role away, locking, or revoking the last
valid certificate of the last one is refused (:class:`LastAdministrator`); ``cjs staff create
--admin`` is the way back when wrong passwords blocked them all.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from zope.interface import implementer

from core import audit, clock, rules
from core.auth import lockout
from core.auth.accounts import IAccountDirectory
from core.auth.lockout import Outcome
from core.auth.passwords import hash_password
from core.db.models import CertificateStatus, StaffCertificate, StaffMember
from core.pki import certificates
from core.pki.staff import IssuedStaffCertificate, issue_staff_certificate
from core.security.client_cert import is_staff_profile
from core.security.sessions import end_staff_sessions_of
from core.staff.roles import StaffRole, parse_roles

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request
    from sqlalchemy.orm import Session

#: The staff app's texts for the sign-in steps (the customers' name the master user).
MESSAGES: Mapping[str, str] = {
    "none": "職員用の電子証明書が確認できませんでした。"
    "管理者から受け取った職員用の電子証明書を選択してアクセスしてください。",
    "unknown": "この電子証明書は職員用画面ではご利用いただけません。"
    "職員用の電子証明書を選択してください。",
    "revoked": "この電子証明書は失効しています。管理者にお問い合わせください。",
    "expired": "この電子証明書は有効期限が切れています。管理者にお問い合わせください。",
    "blocked": "この職員アカウントは閉塞されています。管理者にお問い合わせください。",
}

STAFF_ID_TAKEN = "この職員IDは既に使用されています。"
LAST_ADMINISTRATOR = (
    "最後の有効な管理者のため、この操作はできません。先に別の職員に管理者の権限を付与してください。"
)


class StaffAdminError(Exception):
    """A change the rules refuse; ``message`` is for the screen, ``field`` names its form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class LastAdministrator(StaffAdminError):
    """The change would leave no active administrator."""

    def __init__(self) -> None:
        super().__init__(LAST_ADMINISTRATOR)


# --- Reading ------------------------------------------------------------------------------------


def roles_of(member: StaffMember) -> frozenset[StaffRole]:
    """The member's roles (an unknown name in the row makes it hold none: fail closed)."""
    try:
        return parse_roles(member.roles)
    except ValueError:
        return frozenset()


def roles_text(roles: Iterable[StaffRole]) -> str:
    """The ``roles`` column's value: the names, comma-separated, in a stable order."""
    return ",".join(sorted(StaffRole(role).value for role in roles))


def certificate_problem(certificate: StaffCertificate | None, now: dt.datetime) -> str | None:
    """Why ``certificate`` cannot sign in: unknown, revoked (or the account disabled), expired,
    blocked (by the lockout or an administrator); None when it can."""
    if certificate is None:
        return "unknown"
    if certificate.status != CertificateStatus.VALID or certificate.staff.disabled_at is not None:
        return "revoked"
    if not certificate.not_before <= now <= certificate.not_after:
        return "expired"
    if certificate.staff.blocked_at is not None:
        return "blocked"
    return None


def presented_certificate(request: Request) -> StaffCertificate | None:
    """The row of the staff certificate ``request`` presents: of the staff profile and recorded."""
    presented = request.client_certificate.certificate
    if presented is None or not is_staff_profile(presented):
        return None
    return request.dbsession.scalars(
        select(StaffCertificate).where(
            StaffCertificate.serial == format(presented.serial_number, "x"),
            StaffCertificate.fingerprint_sha256 == presented.fingerprint(hashes.SHA256()).hex(),
        )
    ).one_or_none()


def find_staff(dbsession: Session, staff_id: str) -> StaffMember | None:
    """The staff member ``staff_id`` (disabled ones included), or None."""
    return dbsession.scalars(
        select(StaffMember).where(StaffMember.staff_id == staff_id)
    ).one_or_none()


def has_valid_certificate(member: StaffMember, now: dt.datetime) -> bool:
    """Whether ``member`` holds a certificate neither revoked nor expired."""
    return any(
        c.status == CertificateStatus.VALID and now <= c.not_after for c in member.certificates
    )


def is_active_administrator(member: StaffMember, now: dt.datetime) -> bool:
    """Holds the administrator role and can sign in (see the module docstring)."""
    return (
        StaffRole.ADMINISTRATOR in roles_of(member)
        and member.disabled_at is None
        and member.blocked_at is None
        and has_valid_certificate(member, now)
    )


def _active_administrators(dbsession: Session, now: dt.datetime) -> list[StaffMember]:
    members = dbsession.scalars(
        select(StaffMember)
        .where(StaffMember.disabled_at.is_(None), StaffMember.blocked_at.is_(None))
        .with_for_update()
    )
    return [m for m in members if is_active_administrator(m, now)]


def _keep_an_administrator(dbsession: Session, member: StaffMember, now: dt.datetime) -> None:
    """Refuse a change that would take ``member`` out of the active administrators when it is the
    last one (call before changing it)."""
    others = [m for m in _active_administrators(dbsession, now) if m.id != member.id]
    if is_active_administrator(member, now) and not others:
        raise LastAdministrator


# --- The sign-in steps' accounts ----------------------------------------------------------------


@implementer(IAccountDirectory)
class StaffAccounts:
    """The staff app's accounts: staff members and their staff-profile certificates."""

    actor_kind = "bank"
    messages = MESSAGES

    def __init__(self, request: Request) -> None:
        self.request = request

    def certificate(self, request: Request) -> StaffCertificate | None:
        return presented_certificate(request)

    def certificate_problem(self, certificate: Any, now: dt.datetime) -> str | None:
        return certificate_problem(certificate, now)

    def holder_pk(self, certificate: StaffCertificate) -> int:
        return certificate.staff_pk

    def account(self, pk: int) -> StaffMember | None:
        member = self.request.dbsession.get(StaffMember, pk)
        return member if member is not None and member.disabled_at is None else None

    def account_by_login(self, login_id: str) -> StaffMember | None:
        member = find_staff(self.request.dbsession, login_id)
        return member if member is not None and member.disabled_at is None else None

    def check_password(
        self, account: StaffMember, password: str, *, action: str
    ) -> tuple[StaffMember, Outcome]:
        """AUTH-1 as for customers; the third lock blocks and ends the member's sessions."""
        db = self.request.dbsession
        row: StaffMember = lockout.lock_row(db, StaffMember, account.id)
        outcome = lockout.check(
            row, lockout.USER_PASSWORD, password, clock.now(self.request.registry)
        )
        audit.record(
            db,
            action,
            actor=row.staff_id,
            actor_kind="bank",
            target=row.staff_id,
            result="success" if outcome == Outcome.OK else "failure",
            request=self.request,
            details={"outcome": str(outcome)},
        )
        if outcome in {Outcome.LOCKED_NOW, Outcome.BLOCKED_NOW}:
            action = "staff.lock" if outcome == Outcome.LOCKED_NOW else "staff.block"
            audit.record(db, action, actor="system", actor_kind="system", target=row.staff_id)
        if outcome == Outcome.BLOCKED_NOW:
            end_staff_sessions_of(db, row.id)
        return row, outcome


# --- Changing -----------------------------------------------------------------------------------

_PASSWORD_ALPHABETS = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#$%&*+-=?@")


def generate_initial_password() -> str:
    """A random 12-character password that satisfies ACC-2 (every character class)."""
    while True:
        alphabet = "".join(_PASSWORD_ALPHABETS)
        password = "".join(secrets.choice(alphabet) for _ in range(12))
        if rules.check_password(password) is None:
            return password


def create_staff(
    dbsession: Session,
    *,
    staff_id: str,
    name: str,
    roles: Iterable[StaffRole],
    now: dt.datetime,
    actor: str,
    request: Any = None,
    password: str | None = None,
) -> tuple[StaffMember, str]:
    """Create a staff account with ``roles`` and a temporary password (changed at the first
    sign-in); return it and the password (shown once, never stored in clear). Audited as
    ``staff.create``."""
    roles = frozenset(roles)
    if not roles:
        raise StaffAdminError("権限を1つ以上選択してください。", "roles")
    if find_staff(dbsession, staff_id) is not None:
        raise StaffAdminError(STAFF_ID_TAKEN, "staff_id")
    password = password or generate_initial_password()
    member = StaffMember(
        staff_id=staff_id,
        name=name,
        roles=roles_text(roles),
        password_hash=hash_password(password),
        password_is_temporary=True,
        password_changed_at=now,
        created_at=now,
    )
    dbsession.add(member)
    dbsession.flush()
    audit.record(
        dbsession,
        "staff.create",
        actor=actor,
        actor_kind="bank",
        target=staff_id,
        request=request,
        details={"roles": member.roles},
    )
    return member, password


def set_roles(
    dbsession: Session,
    member: StaffMember,
    roles: Iterable[StaffRole],
    *,
    now: dt.datetime,
    actor: str,
    request: Any = None,
) -> None:
    """Give ``member`` exactly ``roles`` (one or more); the last administrator keeps its role."""
    roles = frozenset(roles)
    if not roles:
        raise StaffAdminError("権限を1つ以上選択してください。", "roles")
    before = member.roles
    if StaffRole.ADMINISTRATOR not in roles:
        _keep_an_administrator(dbsession, member, now)
    member.roles = roles_text(roles)
    audit.record(
        dbsession,
        "staff.roles",
        actor=actor,
        actor_kind="bank",
        target=member.staff_id,
        request=request,
        details={"before": before, "after": member.roles},
    )


def lock_staff(
    dbsession: Session, member: StaffMember, *, now: dt.datetime, actor: str, request: Any = None
) -> None:
    """An administrator's lock: the account is blocked and its sessions end at once."""
    _keep_an_administrator(dbsession, member, now)
    member.blocked_at = now
    end_staff_sessions_of(dbsession, member.id)
    audit.record(
        dbsession,
        "staff.lock",
        actor=actor,
        actor_kind="bank",
        target=member.staff_id,
        request=request,
    )


def unlock_staff(
    dbsession: Session, member: StaffMember, *, actor: str, request: Any = None
) -> None:
    """An administrator's unlock (AUTH-2): clears the lock, the block and both counters."""
    lockout.reset(member, lockout.USER_PASSWORD)
    audit.record(
        dbsession,
        "staff.unlock",
        actor=actor,
        actor_kind="bank",
        target=member.staff_id,
        request=request,
    )


def reset_password(
    dbsession: Session, member: StaffMember, *, now: dt.datetime, actor: str, request: Any = None
) -> str:
    """A new temporary password for ``member`` (changed at the next sign-in); returned once."""
    password = generate_initial_password()
    member.password_hash = hash_password(password)
    member.password_is_temporary = True
    member.password_changed_at = now
    audit.record(
        dbsession,
        "staff.password_reset",
        actor=actor,
        actor_kind="bank",
        target=member.staff_id,
        request=request,
    )
    return password


def issue_certificate(
    dbsession: Session,
    signer: Any,
    member: StaffMember,
    password: str,
    *,
    now: dt.datetime,
    actor: str,
    request: Any = None,
) -> IssuedStaffCertificate:
    """A new certificate of the staff profile for ``member`` (its previous one superseded); the
    member's sessions end (they were bound to the previous certificate)."""
    issued = issue_staff_certificate(
        dbsession, signer, member, password, now=now, actor=actor, request=request
    )
    end_staff_sessions_of(dbsession, member.id)
    return issued


def revoke_certificate(
    dbsession: Session,
    certificate: StaffCertificate,
    *,
    reason: str,
    now: dt.datetime,
    actor: str,
    request: Any = None,
) -> bool:
    """Revoke a staff certificate through the revocation service (CERT-6: the CRL follows the
    commit); the last administrator keeps its last valid certificate. False when it was revoked
    already."""
    member = certificate.staff
    others = [
        c
        for c in member.certificates
        if c.id != certificate.id and c.status == CertificateStatus.VALID and now <= c.not_after
    ]
    if not others:
        _keep_an_administrator(dbsession, member, now)
    revoked = certificates.revoke(
        dbsession,
        certificate,
        reason=reason,
        actor=actor,
        actor_kind="bank",
        now=now,
        request=request,
    )
    if revoked:
        end_staff_sessions_of(dbsession, member.id)
    return revoked


def includeme(config: Configurator) -> None:
    """Register :class:`StaffAccounts` as the staff app's :class:`IAccountDirectory`."""
    config.register_service_factory(
        lambda _context, request: StaffAccounts(request), IAccountDirectory
    )
