"""The paper request framework (seed 003's 依頼書, BANK-2..5, BANK-8): kinds, their registry, and what
filing, approving, rejecting and withdrawing a request does.

A request records the paper form's fields and who received it (受付者); it changes nothing until a
second staff member approves it (検印), who records the seal check (印鑑照合). The approval applies the
kind in the same transaction, through the existing services, inside a savepoint: a kind that cannot
apply leaves nothing behind but the audit of the attempt. Every transition is audited
(``staff_request.<action>``, actor the staff ID, ``actor_kind="bank"``).

A kind is one class: its Japanese name, its extra form fields and their checks (:meth:`RequestKind.
fields`, :meth:`RequestKind.validate`), what the detail screen shows (:meth:`RequestKind.describe`)
and :meth:`RequestKind.apply`. :func:`register_kind` puts it in :data:`KINDS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import case, select

from core import audit
from core.accounts.users import UserAdministration
from core.db.models import Contract, Role, StaffRequest, StaffRequestState, User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from wtforms import Field

    from core.mail.services import DatabaseOutbox

#: The paper form's 依頼者 block, in the form's order: column name → label.
PAPER_FIELDS: dict[str, str] = {
    "requested_on": "依頼日",
    "postal_code": "郵便番号",
    "address": "ご住所",
    "organisation_name": "団体名",
    "representative_title": "代表者の肩書",
    "representative_name": "代表者の氏名",
    "phone": "電話番号",
    "fax": "FAX番号",
    "contact_person": "ご担当者",
    "contract_no": "ご契約番号",
}

STATE_LABELS = {
    StaffRequestState.PENDING: "検印待ち",
    StaffRequestState.APPROVED: "承認済み（実施済み）",
    StaffRequestState.REJECTED: "却下",
    StaffRequestState.WITHDRAWN: "取下げ",
}

SELF_APPROVAL = "受付者ご本人は検印できません。別の検印者が承認してください。"
SELF_REJECTION = "受付者ご本人は却下できません。取り下げる場合は「取下げ」を押してください。"
NOT_THE_FILER = "依頼を取り下げられるのは受付者ご本人のみです。"
NOT_PENDING = "この依頼は既に処理されています。"
SEAL_NOT_CHECKED = "印鑑照合を確認してください。"
NOTE_REQUIRED = "却下の理由を入力してください。"


class RequestRefused(Exception):
    """A transition or an application the rules refuse; ``message`` is for the screen, ``field``
    names the form field it belongs to (None: the screen's)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Filing:
    """What a kind makes of its validated form: the target user, the reason as the form gives it,
    and the parameters :meth:`RequestKind.apply` needs (never a password in clear)."""

    target: User | None = None
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Approver:
    """The second staff member (検印者) and the tools an approval applies a kind with."""

    staff_id: str
    now: dt.datetime
    outbox: DatabaseOutbox
    users: UserAdministration
    origin: audit.Origin | None = None


class RequestKind:
    """One kind of paper request. Subclass, set the class attributes, override what differs, and
    decorate with :func:`register_kind`."""

    #: Stable code, in URLs and in the ``kind`` column.
    code: ClassVar[str]
    #: The Japanese name, as the form's 手続依頼区分 names it.
    label: ClassVar[str]
    #: The requirement it implements (BANK-n).
    spec: ClassVar[str]
    #: Parameters needed only until the request is decided (e.g. a password hash), then removed.
    transient_params: ClassVar[frozenset[str]] = frozenset()

    def fields(self, dbsession: Session, contract: Contract) -> dict[str, Field]:
        """Extra WTForms fields (unbound) of this kind's screen for ``contract``."""
        return {}

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        """Check the kind's fields of the validated ``form`` at ``now``; raise
        :class:`RequestRefused` naming the field (None: the screen), or return the :class:`Filing`."""
        return Filing()

    def describe(self, row: StaffRequest) -> list[tuple[str, str]]:
        """What the detail screen shows of the kind's parameters (label, value)."""
        return []

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        """Carry the approved request out through the services (same transaction); raise
        :class:`RequestRefused` when it cannot be done any more."""
        raise NotImplementedError


#: Every kind of request, by code, in the order the filing screen offers them.
KINDS: dict[str, RequestKind] = {}


def register_kind(cls: type[RequestKind]) -> type[RequestKind]:
    """Class decorator: make ``cls`` a kind of request (its ``code`` must be new)."""
    if cls.code in KINDS:
        raise ValueError(f"request kind {cls.code!r} is registered twice")
    KINDS[cls.code] = cls()
    return cls


def kind_of(row: StaffRequest) -> RequestKind:
    """The kind of ``row``."""
    return KINDS[row.kind]


# --- Reading ------------------------------------------------------------------------------------


def live_users(dbsession: Session, contract: Contract) -> list[User]:
    """The contract's users not deleted: the master first, then by user ID (staff pick from them:
    the form names a general user by name, which is not unique)."""
    return list(
        dbsession.scalars(
            select(User)
            .where(User.contract_id == contract.id, User.deleted_at.is_(None))
            .order_by(case((User.role == Role.MASTER, 0), else_=1), User.user_id)
        )
    )


def live_master(dbsession: Session, contract: Contract) -> User | None:
    """The contract's master, unless it has none (never registered, or deleted by the bank)."""
    return dbsession.scalars(
        select(User).where(
            User.contract_id == contract.id, User.role == Role.MASTER, User.deleted_at.is_(None)
        )
    ).one_or_none()


def user_choice(user: User) -> tuple[str, str]:
    """A user as a choice of the screens: value the user ID, label ID, name and role."""
    role = "マスターユーザー" if user.role == Role.MASTER else "一般ユーザー"
    return user.user_id, f"{user.user_id}（{user.name}・{role}）"


# --- Transitions --------------------------------------------------------------------------------


def _audit(
    dbsession: Session,
    action: str,
    row: StaffRequest,
    staff_id: str,
    origin: audit.Origin | None,
    result: str = "success",
    **details: Any,
) -> None:
    audit.record(
        dbsession,
        action,
        actor=staff_id,
        actor_kind="bank",
        result=result,
        target=row.target_user.user_id if row.target_user is not None else row.contract_no,
        contract_no=row.contract.contract_no,
        request=origin,
        details={"request": row.id, "kind": row.kind, **details},
    )


def file_request(
    dbsession: Session,
    *,
    kind: RequestKind,
    contract: Contract,
    paper: dict[str, Any],
    filing: Filing,
    staff_id: str,
    now: dt.datetime,
    origin: audit.Origin | None = None,
) -> StaffRequest:
    """Record a received paper request (受付者 ``staff_id``), pending; nothing else changes.
    ``paper`` holds :data:`PAPER_FIELDS`' values. Audited as ``staff_request.file``."""
    row = StaffRequest(
        kind=kind.code,
        state=StaffRequestState.PENDING,
        contract=contract,
        target_user=filing.target,
        reason=filing.reason,
        params=filing.params,
        filed_by=staff_id,
        filed_at=now,
        **paper,
    )
    dbsession.add(row)
    dbsession.flush()
    _audit(dbsession, "staff_request.file", row, staff_id, origin)
    return row


def _pending(dbsession: Session, request_id: int) -> StaffRequest:
    """The request under a row lock; :class:`RequestRefused` unless it is pending."""
    row = dbsession.scalars(
        select(StaffRequest)
        .where(StaffRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.state != StaffRequestState.PENDING:
        raise RequestRefused(NOT_PENDING)
    return row


def _refuse(
    dbsession: Session,
    action: str,
    row: StaffRequest,
    staff_id: str,
    origin: audit.Origin | None,
    message: str,
    field: str | None = None,
) -> RequestRefused:
    """Audit a refused transition (it commits: nothing else changed) and return the exception."""
    _audit(dbsession, action, row, staff_id, origin, result="refused", message=message)
    return RequestRefused(message, field)


def approve(
    dbsession: Session, request_id: int, approver: Approver, *, seal_checked: bool
) -> StaffRequest:
    """検印: apply the pending request ``request_id`` and mark it approved, in one transaction.

    Refused (:class:`RequestRefused`, audited as ``staff_request.approve`` with result
    ``refused``) when the approver filed it (four eyes), without the seal check (印鑑照合), or when
    the kind cannot apply any more (then nothing of the application stays). Audited as
    ``staff_request.approve``; what the kind does is audited by the services it calls.
    """
    row = _pending(dbsession, request_id)
    staff_id, origin = approver.staff_id, approver.origin
    if row.filed_by == staff_id:
        raise _refuse(dbsession, "staff_request.approve", row, staff_id, origin, SELF_APPROVAL)
    if not seal_checked:
        raise RequestRefused(SEAL_NOT_CHECKED, "seal_checked")
    try:
        with dbsession.begin_nested():
            kind_of(row).apply(dbsession, row, approver)
            _decide(row, StaffRequestState.APPROVED, staff_id, approver.now, "")
            row.seal_checked = True
            dbsession.flush()
    except RequestRefused as refused:
        dbsession.refresh(row)
        raise _refuse(
            dbsession, "staff_request.approve", row, staff_id, origin, refused.message
        ) from None
    _audit(
        dbsession,
        "staff_request.approve",
        row,
        staff_id,
        origin,
        filed_by=row.filed_by,
        seal_checked=True,
    )
    return row


def reject(
    dbsession: Session,
    request_id: int,
    *,
    staff_id: str,
    note: str,
    now: dt.datetime,
    origin: audit.Origin | None = None,
) -> StaffRequest:
    """Reject the pending request with the reason ``note`` (by an approver other than the filer,
    who withdraws instead); nothing is applied. Audited as ``staff_request.reject``."""
    row = _pending(dbsession, request_id)
    if row.filed_by == staff_id:
        raise _refuse(dbsession, "staff_request.reject", row, staff_id, origin, SELF_REJECTION)
    if not note.strip():
        raise RequestRefused(NOTE_REQUIRED, "note")
    _decide(row, StaffRequestState.REJECTED, staff_id, now, note.strip())
    dbsession.flush()
    _audit(dbsession, "staff_request.reject", row, staff_id, origin, note=row.decision_note)
    return row


def withdraw(
    dbsession: Session,
    request_id: int,
    *,
    staff_id: str,
    now: dt.datetime,
    origin: audit.Origin | None = None,
) -> StaffRequest:
    """The filer withdraws the pending request (a mistake, a customer who called back); nothing is
    applied. Audited as ``staff_request.withdraw``."""
    row = _pending(dbsession, request_id)
    if row.filed_by != staff_id:
        raise _refuse(dbsession, "staff_request.withdraw", row, staff_id, origin, NOT_THE_FILER)
    _decide(row, StaffRequestState.WITHDRAWN, staff_id, now, "")
    dbsession.flush()
    _audit(dbsession, "staff_request.withdraw", row, staff_id, origin)
    return row


def _decide(
    row: StaffRequest, state: StaffRequestState, staff_id: str, now: dt.datetime, note: str
) -> None:
    row.state = state
    row.decided_by = staff_id
    row.decided_at = now
    row.decision_note = note
    transient = kind_of(row).transient_params
    if transient:  # needed only until the decision (a password hash): not kept after it
        row.params = {name: value for name, value in row.params.items() if name not in transient}


def pending_requests(dbsession: Session) -> list[StaffRequest]:
    """The requests waiting for 検印, oldest first."""
    return list(
        dbsession.scalars(
            select(StaffRequest)
            .where(StaffRequest.state == StaffRequestState.PENDING)
            .order_by(StaffRequest.filed_at, StaffRequest.id)
        )
    )


def recent_decisions(dbsession: Session, limit: int = 50) -> list[StaffRequest]:
    """The latest decided requests, newest first."""
    return list(
        dbsession.scalars(
            select(StaffRequest)
            .where(StaffRequest.state != StaffRequestState.PENDING)
            .order_by(StaffRequest.decided_at.desc(), StaffRequest.id.desc())
            .limit(limit)
        )
    )
