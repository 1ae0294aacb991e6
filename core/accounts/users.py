"""Contract user administration (FLOW-3, FLOW-5, ACC-6, ACC-7, AUTH-2): what the master may do to
the users of its contract, and what a general user may do to itself.

The screens (``core.web.users``) stay thin: they validate input and call the
:class:`IUserAdministration` service (``request.find_service(IUserAdministration)``; a job or a staff
screen builds a :class:`UserAdministration` with its own session, clock and outbox), which checks who
may do what again (a hand-crafted request must not get further than the screen would),
change the rows in the request's transaction, audit the change and queue the user's mail. None of
them commits.

Rules, as decided here:

- *Visible* users: the master sees every non-deleted user of its contract, a general user only
  itself (ACC-6). Anything else is "not found", whatever its contract.
- At most :data:`MAX_GENERAL_USERS` non-deleted general users per contract; the count is taken under
  a lock on the contract's row, so two masters' browsers cannot register the 11th together.
- A password the master sets for a general user is temporary (FLOW-5); its own is not. A new
  password restarts the failure count, not a lock or block (the state field does that).
- State: 正常 clears lock, block and both counters (AUTH-2); 閉塞 suspends (blocked now, sessions
  ended); ロック中 only arises from wrong passwords and cannot be chosen.
- Restrictions (ACC-7): a row only for a level other than 表示 (no row means 表示). A deleted user
  keeps its rows, like the rest of its history.
- Deletion: ``deleted_at`` set, every valid certificate revoked as ``privilegeWithdrawn``, sessions
  ended at once; the row, the user ID and the audit history stay (ACC-1: the ID is never given again).
  The master deletes its general users; only the bank deletes a master (BANK-4, :meth:`delete_master`),
  its general users kept, and the contract then registers a new master (FLOW-1: a deleted master no
  longer counts).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from zope.interface import Interface, implementer

from core import audit
from core.auth import lockout
from core.auth.passwords import hash_password
from core.clock import Clock, get_clock
from core.db.models import (
    Certificate,
    CertificateStatus,
    Contract,
    ContractKind,
    FormerUserId,
    Role,
    User,
    UserRestriction,
)
from core.hookspecs import RESTRICTION_LEVELS, ServiceModule
from core.i18n import Message, _
from core.mail.interfaces import IOutbox
from core.mail.services import DatabaseOutbox
from core.pki import certificates
from core.plugins import ModuleRegistry, get_modules
from core.security.sessions import end_sessions_of

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request
    from sqlalchemy.orm import Session

#: 一般ユーザー: at most ten per contract (FLOW-5); deleted ones do not count.
MAX_GENERAL_USERS = 10
#: The ACC-7 level of a module without a restriction row.
DEFAULT_LEVEL = "show"
#: RFC 5280 reason of the certificates of a deleted user.
DELETION_REVOCATION_REASON = "privilegeWithdrawn"

ID_TAKEN = _("このユーザーIDは既に使用されています。別のユーザーIDを入力してください。")
LIMIT_REACHED = _(
    "一般ユーザーは1契約につき${limit}名まで登録できます。"
    "新たに登録する場合は、不要な一般ユーザーを削除してください。",
    limit=MAX_GENERAL_USERS,
)
LOCK_NOT_SELECTABLE = _(
    "「ロック中」は選択できません。ロックはパスワードの誤入力でのみ設定されます。"
)
MASTER_NOT_DELETABLE = _(
    "マスターユーザーは削除できません。マスターユーザーの削除は、お取引の労働金庫にご依頼ください。"
)


class UserState(enum.StrEnum):
    """ユーザー状態 of DM493101 / DM492101."""

    NORMAL = "normal"
    LOCKED = "locked"
    BLOCKED = "blocked"

    @property
    def label(self) -> str:
        return {"normal": _("正常"), "locked": _("ロック中"), "blocked": _("閉塞")}[self.value]


class MasterDeletionReason(enum.StrEnum):
    """理由 of マスターユーザーの削除 on the bank's paper form (BANK-4, seed 003)."""

    LOCKED_OUT = "locked_out"
    FORGOTTEN = "forgotten"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "locked_out": _("パスワード誤入力による閉鎖"),
            "forgotten": _("パスワード失念"),
            "other": _("その他"),
        }[self.value]


class UserAdminError(Exception):
    """A change the rules refuse; ``message`` is for the screen, ``field`` names its form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(UserAdminError):
    """The acting user may not do this (another contract, a general user acting as a master…)."""

    def __init__(self, message: str = _("この操作は許可されていません。")) -> None:
        super().__init__(message)


class LimitReached(UserAdminError):
    """The contract has its ten general users already."""

    def __init__(self) -> None:
        super().__init__(LIMIT_REACHED)


class UserIdTaken(UserAdminError):
    """ACC-1: the user ID exists in the system (deleted users included)."""

    def __init__(self) -> None:
        super().__init__(ID_TAKEN, "user_id")


# --- Reading ------------------------------------------------------------------------------------


def is_master(user: User) -> bool:
    """Whether ``user`` is its contract's マスターユーザー."""
    return user.role == Role.MASTER


def role_label(user: User) -> Message:
    """権限 (ACC-6): 会員(マスター), 会員(一般), 事業主(マスター), 事業主(一般)."""
    kind = ContractKind(user.contract.kind).label
    role = _("マスター") if is_master(user) else _("一般")
    return _("${kind}(${role})", kind=kind, role=role)


def state_of(user: User, now: dt.datetime) -> UserState:
    """閉塞 when blocked, ロック中 while ``locked_until`` is in the future, else 正常."""
    refused = lockout.state(user, lockout.USER_PASSWORD, now)
    if refused == lockout.Outcome.BLOCKED:
        return UserState.BLOCKED
    if refused == lockout.Outcome.LOCKED:
        return UserState.LOCKED
    return UserState.NORMAL


def state_since(user: User, now: dt.datetime) -> dt.datetime | None:
    """ロック/閉塞日時: when the current lock or block began, or None in state 正常."""
    state = state_of(user, now)
    if state == UserState.BLOCKED:
        return user.blocked_at
    if state == UserState.LOCKED and user.locked_until is not None:
        return user.locked_until - lockout.LOCK_DURATION
    return None


def visible_users(dbsession: Session, viewer: User) -> list[User]:
    """The rows of DM493101: the master first, then by user ID; a general user sees only itself."""
    if not is_master(viewer):
        return [viewer]
    return list(
        dbsession.scalars(
            select(User)
            .where(User.contract_id == viewer.contract_id, User.deleted_at.is_(None))
            .order_by(case((User.role == Role.MASTER, 0), else_=1), User.user_id)
        )
    )


def user_id_in_use(dbsession: Session, user_id: str) -> bool:
    """ACC-1: whether ``user_id`` names a user (deleted ones included) or was a user's ID before
    the bank changed it (BANK-8); either way it is never given again."""
    for column in (User.user_id, FormerUserId.user_id):
        if dbsession.scalars(select(column).where(column == user_id)).first() is not None:
            return True
    return False


def may_see(viewer: User, user: User) -> bool:
    """ACC-6: the master sees its contract's users, a general user only itself."""
    if viewer.contract_id != user.contract_id or user.deleted_at is not None:
        return False
    return is_master(viewer) or user.id == viewer.id


def in_contract(dbsession: Session, viewer: User, user_id: str) -> User | None:
    """The non-deleted user ``user_id`` of ``viewer``'s contract, whoever may see it."""
    return dbsession.scalars(
        select(User).where(
            User.user_id == user_id,
            User.contract_id == viewer.contract_id,
            User.deleted_at.is_(None),
        )
    ).one_or_none()


def general_user_count(dbsession: Session, contract_id: int) -> int:
    """How many non-deleted general users the contract has."""
    return int(
        dbsession.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.contract_id == contract_id,
                User.role == Role.GENERAL,
                User.deleted_at.is_(None),
            )
        )
        or 0
    )


def levels_of(user: User) -> dict[str, str]:
    """The user's ACC-7 levels by module code, for the modules that have a row (others: 表示)."""
    return {r.module_code: r.level for r in user.restrictions}


def level_label(level: str) -> str:
    """表示 / 非表示 / 閲覧のみ."""
    return RESTRICTION_LEVELS.get(level, level)


# --- Changing -----------------------------------------------------------------------------------


def _check_levels(modules: list[ServiceModule], levels: Mapping[str, str]) -> dict[str, str]:
    """The levels of ``levels`` for the offered modules, each one the module offers (ACC-7)."""
    offered = {module.code: module for module in modules}
    checked = {}
    for code, level in levels.items():
        module = offered.get(code)
        if module is None:
            raise UserAdminError(_("ご契約にない機能の制限は設定できません。"))
        if level not in module.restriction_levels:
            raise UserAdminError(
                _("${module}の機能制限の値が正しくありません。", module=module.name), code
            )
        checked[code] = level
    return checked


def _apply_levels(dbsession: Session, user: User, levels: Mapping[str, str]) -> dict[str, str]:
    """Store ``levels`` (表示 removes the row); return the ones that changed, by module code."""
    current = {r.module_code: r for r in user.restrictions}
    changed = {}
    for code, level in levels.items():
        row = current.get(code)
        if (row.level if row is not None else DEFAULT_LEVEL) == level:
            continue
        changed[code] = level
        if level == DEFAULT_LEVEL:
            assert row is not None
            user.restrictions.remove(row)
        elif row is None:
            user.restrictions.append(UserRestriction(module_code=code, level=level))
        else:
            row.level = level
    dbsession.flush()
    return changed


@dataclass(frozen=True)
class NewUser:
    """What DM493101 → 登録へ asks for a general user (already validated against ACC-1/2/4/5)."""

    user_id: str
    name: str
    email: str
    password: str
    levels: Mapping[str, str]


@dataclass(frozen=True)
class Changes:
    """DM492101: what was entered; None (or empty) leaves a field as it is (「変更しない項目は入力不要」)."""

    name: str | None = None
    email: str | None = None
    password: str | None = None
    state: str | None = None
    levels: Mapping[str, str] | None = None


class IUserAdministration(Interface):
    """Contract user administration: what a master does to its contract's users (FLOW-3, FLOW-5)."""

    def restrictable_modules(contract):
        """The modules offered in ユーザー別機能制限 for ``contract``."""

    def create_general_user(master, new):
        """Register a general user of ``master``'s contract."""

    def update_user(actor, target, changes):
        """Apply ``changes`` to ``target`` as ``actor`` may; return what changed."""

    def delete_general_user(master, target):
        """Delete a general user; return the serials revoked."""

    def delete_master(target, staff_id, reason):
        """Delete a contract's master for the bank (BANK-4); return the serials revoked."""

    def unlock_master(target, staff_id):
        """Lift a master's lock or block for the bank (BANK-4, our design); whether it was one."""

    def change_user_id(target, new_user_id, staff_id):
        """Give ``target`` a new user ID for the bank (BANK-8), keeping its history."""


@implementer(IUserAdministration)
class UserAdministration:
    """The user administration rules over ``dbsession``, at ``clock``'s time.

    ``outbox`` receives the users' mails, ``modules`` says which modules a contract has, and
    ``origin`` goes into the audit log (None from a job or a loader). A request gets one with
    ``request.find_service(IUserAdministration)``.
    """

    def __init__(
        self,
        dbsession: Session,
        *,
        clock: Clock,
        outbox: DatabaseOutbox,
        modules: ModuleRegistry,
        origin: audit.Origin | None = None,
    ) -> None:
        self.dbsession = dbsession
        self.clock = clock
        self.outbox = outbox
        self.modules = modules
        self.origin = origin

    def restrictable_modules(self, contract: Contract) -> list[ServiceModule]:
        """The modules offered in ユーザー別機能制限: those enabled in any of the contract's groups."""
        modules = self.modules
        enabled = {
            code for group in contract.deposit_groups for code in modules.enabled_codes(group)
        }
        return [module for code, module in modules.modules.items() if code in enabled]

    def _audit(
        self, action: str, actor: str, target: User, actor_kind: str = "user", /, **details: object
    ) -> None:
        audit.record(
            self.dbsession,
            action,
            actor=actor,
            actor_kind=actor_kind,
            target=target.user_id,
            contract_no=target.contract.contract_no,
            request=self.origin,
            details=details,
        )

    def create_general_user(self, master: User, new: NewUser) -> User:
        """Register a general user of ``master``'s contract with a temporary password (FLOW-3).

        Raises :class:`LimitReached` for an 11th user, :class:`UserIdTaken` for a user ID that exists
        anywhere (deleted users included), :class:`NotAllowed` when ``master`` is not a master. Audited as
        ``user.create``; the new user is mailed ``registered``.
        """
        if not is_master(master) or master.deleted_at is not None:
            raise NotAllowed()
        db = self.dbsession
        contract = lockout.lock_row(db, Contract, master.contract_id)  # serialises the count
        levels = _check_levels(self.restrictable_modules(contract), new.levels)
        if general_user_count(db, contract.id) >= MAX_GENERAL_USERS:
            raise LimitReached()
        if user_id_in_use(db, new.user_id):
            raise UserIdTaken()
        now = self.clock()
        user = User(
            contract_id=contract.id,
            user_id=new.user_id,
            role=Role.GENERAL,
            name=new.name,
            email=new.email,
            password_hash=hash_password(new.password),
            password_is_temporary=True,
            password_changed_at=now,
        )
        try:
            with db.begin_nested():
                db.add(user)
                db.flush()
        except IntegrityError:
            raise UserIdTaken() from None  # registered meanwhile from elsewhere
        stored = _apply_levels(db, user, levels)
        self._audit(
            "user.create", master.user_id, user, role=Role.GENERAL.value, restrictions=stored
        )
        self.outbox.notify_user(user, "registered", is_master=False)
        return user

    def update_user(self, actor: User, target: User, changes: Changes) -> list[str]:
        """Apply ``changes`` to ``target`` as ``actor`` may (ACC-6, FLOW-5, AUTH-2); return what changed.

        The master: its own name, email and password (not temporary); a general user's name, email,
        temporary password, state and restrictions. A general user: its own name and email only. Anything
        else raises :class:`NotAllowed` and changes nothing. Audited as ``user.update`` with the names of
        the fields changed (never a password); mails: ``password_reset_by_master``, ``user_unlocked``,
        ``password_changed`` (the master's own password).
        """
        db = self.dbsession
        if actor.contract_id != target.contract_id:
            raise NotAllowed()
        own = actor.id == target.id
        if not is_master(actor):
            if not own or changes.password or changes.state or changes.levels:
                raise NotAllowed()
        elif own and (changes.state or changes.levels):
            raise NotAllowed()
        row: User = lockout.lock_row(db, User, target.id)
        if row.deleted_at is not None:  # deleted meanwhile
            raise NotAllowed()
        now = self.clock()
        changed: list[str] = []
        details: dict[str, object] = {}

        new_state = UserState(changes.state) if changes.state else None
        if new_state == UserState.LOCKED and state_of(row, now) != UserState.LOCKED:
            raise UserAdminError(LOCK_NOT_SELECTABLE, "state")
        levels = None
        if changes.levels:
            levels = _check_levels(self.restrictable_modules(row.contract), changes.levels)

        if changes.name and changes.name != row.name:
            row.name = changes.name
            changed.append("user_name")
        if changes.email and changes.email != row.email:
            row.email = changes.email
            changed.append("email")
        if changes.password:
            row.password_hash = hash_password(changes.password)
            row.password_changed_at = now
            row.password_is_temporary = (
                not own
            )  # FLOW-5: every password the master sets is temporary
            row.failed_count = 0
            changed.append("password")
        if new_state is not None:
            before = state_of(row, now)
            if new_state != before:
                if new_state == UserState.NORMAL:
                    lockout.reset(row, lockout.USER_PASSWORD)
                else:  # 閉塞: suspend
                    row.blocked_at = now
                    row.locked_until = None
                changed.append("state")
                details["state"] = {"from": before.value, "to": new_state.value}
        if levels:
            changed_levels = _apply_levels(db, row, levels)
            if changed_levels:
                changed.append("restrictions")
                details["restrictions"] = changed_levels
        if not changed:
            return []

        db.flush()
        self._audit("user.update", actor.user_id, row, fields=changed, **details)
        if "password" in changed and not own:
            self.outbox.notify_user(row, "password_reset_by_master")
        elif "password" in changed:
            self.outbox.notify_user(row, "password_changed", changed_at=now)
        if "state" in changed and new_state == UserState.NORMAL:
            self.outbox.notify_user(row, "user_unlocked")
        if ("state" in changed and new_state == UserState.BLOCKED) or (
            "password" in changed and not own
        ):
            end_sessions_of(
                db, row.id
            )  # suspended, or must log in again with the temporary password
        return changed

    def delete_general_user(self, master: User, target: User) -> list[str]:
        """Delete a general user of ``master``'s contract (FLOW-5); return the serials revoked.

        The master cannot delete itself (BANK-4: the bank does): :class:`NotAllowed` with that message.
        Every valid certificate is revoked through :func:`core.pki.certificates.revoke`, the sessions end at
        once, the row and its history stay. Audited as ``user.delete``; the user is mailed
        ``user_deleted``.
        """
        if not is_master(master) or master.contract_id != target.contract_id:
            raise NotAllowed()
        if target.id == master.id or is_master(target):
            raise NotAllowed(MASTER_NOT_DELETABLE)
        row, revoked = self._delete(
            target, master.user_id, "user", message="FLOW-5: the user was deleted by the master"
        )
        self._audit("user.delete", master.user_id, row, revoked=revoked)
        self.outbox.notify_user(row, "user_deleted")
        return revoked

    def delete_master(self, target: User, staff_id: str, reason: MasterDeletionReason) -> list[str]:
        """Delete the master ``target`` for the bank (BANK-4); return the serials revoked.

        What the staff application applies once a マスターユーザーの削除 request is approved (the
        request and its four eyes are its own business): like :meth:`delete_general_user`, every
        valid certificate revoked, the sessions ended, the row and its history kept; the contract's
        general users stay. The contract may then register a new master with its contract number and
        initial password (FLOW-1). :class:`NotAllowed` when ``target`` is not a master or is already
        deleted. Audited as ``user.delete`` by the bank (``staff_id``) with the form's ``reason``;
        the master is mailed ``user_deleted``.
        """
        if not is_master(target):
            raise NotAllowed()
        row, revoked = self._delete(
            target, staff_id, "bank", message="BANK-4: the master was deleted by the bank"
        )
        self._audit(
            "user.delete",
            staff_id,
            row,
            "bank",
            role=Role.MASTER.value,
            reason=MasterDeletionReason(reason).value,
            revoked=revoked,
        )
        self.outbox.notify_user(row, "user_deleted")
        return revoked

    def unlock_master(self, target: User, staff_id: str) -> bool:
        """Lift the lock or block of the master ``target`` for the bank (BANK-4, our design beyond
        the form: instead of deleting it); False when it was neither locked nor blocked.

        Clears both counters as 正常 does (AUTH-2). :class:`NotAllowed` for a general user (its
        master resets it) or a deleted master. Audited as ``user.update`` by the bank with the
        state's change; the master is mailed ``user_unlocked``.
        """
        if not is_master(target):
            raise NotAllowed()
        row: User = lockout.lock_row(self.dbsession, User, target.id)
        if row.deleted_at is not None:
            raise NotAllowed(_("このユーザーは既に削除されています。"))
        before = state_of(row, self.clock())
        if before == UserState.NORMAL:
            return False
        lockout.reset(row, lockout.USER_PASSWORD)
        self.dbsession.flush()
        self._audit(
            "user.update",
            staff_id,
            row,
            "bank",
            fields=["state"],
            state={"from": before.value, "to": UserState.NORMAL.value},
        )
        self.outbox.notify_user(row, "user_unlocked")
        return True

    def change_user_id(self, target: User, new_user_id: str, staff_id: str) -> str:
        """Give ``target`` the user ID ``new_user_id`` for the bank (BANK-8); return the old one.

        The row stays the same user: its certificates, sessions' owner, email codes, restrictions
        and requests refer to it by its key, not by the ID, and stay. The audit trail is
        append-only and keeps naming the user by the ID it had then; the old ID is kept in
        ``former_user_ids`` (never given again, ACC-1) and the change is audited as
        ``user.change_id`` with both IDs, which links the two. Valid certificates stay valid
        (the login finds the user by the certificate's row; their subject keeps the old ID until
        the next issuance, which carries the new one). The user's sessions end, so that every
        screen shows the new ID from the next login. :class:`UserIdTaken` for an ID in use or used
        before; :class:`NotAllowed` for a deleted user. The user is mailed ``user_id_changed``.
        """
        db = self.dbsession
        row: User = lockout.lock_row(db, User, target.id)
        if row.deleted_at is not None:
            raise NotAllowed(_("このユーザーは既に削除されています。"))
        if user_id_in_use(db, new_user_id):
            raise UserIdTaken()
        old_user_id = row.user_id
        try:
            with db.begin_nested():
                db.add(FormerUserId(user_pk=row.id, user_id=old_user_id, replaced_at=self.clock()))
                row.user_id = new_user_id
                db.flush()
        except IntegrityError:
            raise UserIdTaken() from None  # taken meanwhile from elsewhere
        end_sessions_of(db, row.id)
        self._audit("user.change_id", staff_id, row, "bank", old_user_id=old_user_id)
        self.outbox.notify_user(row, "user_id_changed", old_user_id=old_user_id)
        return old_user_id

    def _delete(
        self, target: User, actor: str, actor_kind: str, *, message: str
    ) -> tuple[User, list[str]]:
        """Mark ``target`` deleted, revoke its valid certificates, end its sessions (not audited
        here: the caller records ``user.delete``); return the locked row and the serials revoked."""
        db = self.dbsession
        row: User = lockout.lock_row(db, User, target.id)
        if row.deleted_at is not None:
            raise NotAllowed(_("このユーザーは既に削除されています。"))
        now = self.clock()
        row.deleted_at = now
        revoked = []
        for certificate in db.scalars(
            select(Certificate)
            .where(Certificate.user_pk == row.id, Certificate.status == CertificateStatus.VALID)
            .order_by(Certificate.id)
        ):
            if certificates.revoke(
                db,
                certificate,
                reason=DELETION_REVOCATION_REASON,
                actor=actor,
                actor_kind=actor_kind,
                now=now,
                request=self.origin,
                message=message,
            ):
                revoked.append(certificate.serial)
        end_sessions_of(db, row.id)
        db.flush()
        return row, revoked


def user_administration_for_request(_context: Any, request: Request) -> UserAdministration:
    """The request's user administration: its session, the app's clock and modules, its outbox."""
    return UserAdministration(
        request.dbsession,
        clock=get_clock(request.registry),
        outbox=request.find_service(IOutbox),
        modules=get_modules(request.registry),
        origin=audit.Origin.of(request),
    )


def includeme(config: Configurator) -> None:
    """Register :class:`IUserAdministration` for requests."""
    config.register_service_factory(user_administration_for_request, IUserAdministration)
