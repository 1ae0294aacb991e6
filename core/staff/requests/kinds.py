"""The kinds of paper request (seed 003's 手続依頼区分, seed 001 p.43–45), each applied through the
existing services: the revocation service (BANK-5), the user administration (BANK-4, BANK-8) and
the lockout counters of the contract's initial password (BANK-3).

ご契約番号照会 (BANK-2) is not a kind: looking a contract up and printing its notice changes nothing,
so it is a direct, audited action of the operator (``core.staff.requests.lookup``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from wtforms import Field, PasswordField, StringField
from wtforms.validators import Length

from core import audit, rules
from core.accounts.users import (
    ID_TAKEN,
    MasterDeletionReason,
    UserAdminError,
    UserState,
    state_of,
    user_id_in_use,
)
from core.auth import lockout
from core.auth.passwords import hash_password
from core.db.models import Certificate, CertificateStatus, Contract, StaffRequest, User
from core.pki import certificates
from core.staff.requests.base import (
    Approver,
    Filing,
    RequestKind,
    RequestRefused,
    live_master,
    live_users,
    register_kind,
    user_choice,
)
from core.staff.requests.forms import NOT_A_CHOICE, Choice, RadioChoice, choices
from core.web.forms import required, rule, same_as

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NO_MASTER = "このご契約にはマスターユーザーが登録されていません。"
NOT_LOCKED = "このマスターユーザーはロックも閉塞もされていません。"
INITIAL_NOT_LOCKED = "このご契約の初期パスワードはロックも閉塞もされていません。"
OTHER_REASON_REQUIRED = "「その他」の場合は、手続依頼事由を入力してください。"
SAME_USER_ID = "現在のユーザーIDと同じです。新しいユーザーIDを入力してください。"
INITIAL_PASSWORD_MISMATCH = "新しい初期パスワードと再入力した初期パスワードが一致しません。"  # noqa: S105
NO_VALID_CERTIFICATE = "このユーザーには有効な電子証明書がありません。"
USER_GONE = "対象のユーザーは既に削除されています。"

#: RFC 5280 CRLReason codes offered for 電子証明書の失効 (``core.pki.x509.REVOCATION_REASONS``).
REVOCATION_REASON_LABELS = {
    "superseded": "superseded（パソコンの変更など、新しい証明書に置き換え）",
    "keyCompromise": "keyCompromise（パソコンの紛失・盗難など）",
    "affiliationChanged": "affiliationChanged（担当者の異動）",
    "cessationOfOperation": "cessationOfOperation（利用の終了）",
    "privilegeWithdrawn": "privilegeWithdrawn（利用資格の取消し）",
    "unspecified": "unspecified（理由を特定しない）",
}


def _user_field(dbsession: Session, contract: Contract) -> Choice:
    return Choice(
        "対象ユーザー",
        choices=choices(
            [("", "選択してください"), *map(user_choice, live_users(dbsession, contract))]
        ),
    )


def _picked_user(dbsession: Session, contract: Contract, user_id: str) -> User:
    user = dbsession.scalars(
        select(User).where(
            User.contract_id == contract.id, User.user_id == user_id, User.deleted_at.is_(None)
        )
    ).one_or_none()
    if user is None:
        raise RequestRefused(NOT_A_CHOICE, "target_user")
    return user


def _valid_certificates(dbsession: Session, user: User) -> list[Certificate]:
    return list(
        dbsession.scalars(
            select(Certificate)
            .where(Certificate.user_pk == user.id, Certificate.status == CertificateStatus.VALID)
            .order_by(Certificate.id)
        )
    )


def _the_master(dbsession: Session, contract: Contract, field: str | None = None) -> User:
    """The contract's live master; :class:`RequestRefused` (at ``field``) when it has none."""
    master = live_master(dbsession, contract)
    if master is None:
        raise RequestRefused(NO_MASTER, field)
    return master


def _live_target(request_row: StaffRequest) -> User:
    """The request's target user, unless deleted since the request was filed."""
    target = request_row.target_user
    if target is None or target.deleted_at is not None:
        raise RequestRefused(USER_GONE)
    return target


@register_kind
class CertificateRevocation(RequestKind):
    """電子証明書の失効 (BANK-5, CERT-6): every valid certificate of the master or of a general user
    picked by user ID, with an RFC 5280 reason, through :func:`core.pki.certificates.revoke`; the
    CRL is published once the approval commits, and the certificate is refused at its next request.
    The user is mailed ``cert_revoked`` per certificate."""

    code = "cert_revoke"
    label = "電子証明書の失効"
    spec = "BANK-5"

    def fields(self, dbsession: Session, contract: Contract) -> dict[str, Field]:
        return {
            "target_user": _user_field(dbsession, contract),
            "revocation_reason": Choice(
                "失効理由（RFC 5280）",
                choices=choices(REVOCATION_REASON_LABELS.items()),
                default="superseded",
            ),
        }

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        user = _picked_user(dbsession, contract, form.target_user.data)
        if not _valid_certificates(dbsession, user):
            raise RequestRefused(NO_VALID_CERTIFICATE, "target_user")
        reason = form.revocation_reason.data
        return Filing(target=user, params={"rfc5280": reason})

    def describe(self, row: StaffRequest) -> list[tuple[str, str]]:
        return [("失効理由（RFC 5280）", REVOCATION_REASON_LABELS[row.params["rfc5280"]])]

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        user = _live_target(request_row)
        revoked = []
        for certificate in _valid_certificates(dbsession, user):
            if certificates.revoke(
                dbsession,
                certificate,
                reason=request_row.params["rfc5280"],
                actor=approver.staff_id,
                actor_kind="bank",
                now=approver.now,
                request=approver.origin,
                message=f"BANK-5: 電子証明書失効等依頼書 (request {request_row.id})",
            ):
                revoked.append(certificate)
        if not revoked:
            raise RequestRefused(NO_VALID_CERTIFICATE)
        for certificate in revoked:
            approver.outbox.notify_user(
                user, "cert_revoked", serial=certificate.serial, revoked_at=approver.now
            )


@register_kind
class MasterDeletion(RequestKind):
    """マスターユーザーの削除 (BANK-4) with the form's 手続依頼事由, through
    :meth:`~core.accounts.users.UserAdministration.delete_master`: the certificate revoked, the
    sessions ended, the general users kept, the master mailed ``user_deleted``; the contract then
    registers a new master with its contract number and initial password (FLOW-1)."""

    code = "master_delete"
    label = "マスターユーザーの削除"
    spec = "BANK-4"

    def fields(self, dbsession: Session, contract: Contract) -> dict[str, Field]:
        return {
            "deletion_reason": RadioChoice(
                "手続依頼事由",
                choices=choices((reason.value, reason.label) for reason in MasterDeletionReason),
            ),
            "reason_other": StringField(
                "その他の事由",
                [Length(max=200, message="その他の事由は200文字以内で入力してください。")],
            ),
        }

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        master = _the_master(dbsession, contract, "deletion_reason")
        reason = MasterDeletionReason(form.deletion_reason.data)
        other = (form.reason_other.data or "").strip()
        if reason == MasterDeletionReason.OTHER and not other:
            raise RequestRefused(OTHER_REASON_REQUIRED, "reason_other")
        label = (
            f"{reason.label}（{other}）" if reason == MasterDeletionReason.OTHER else reason.label
        )
        return Filing(target=master, reason=label, params={"reason": reason.value})

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        target = _live_target(request_row)
        reason = MasterDeletionReason(request_row.params["reason"])
        try:
            approver.users.delete_master(target, approver.staff_id, reason)
        except UserAdminError as error:
            raise RequestRefused(error.message) from None


@register_kind
class MasterUnlock(RequestKind):
    """マスターユーザーのロック・閉塞解除 (BANK-4, our design beyond the form: instead of deleting
    the master), through :meth:`~core.accounts.users.UserAdministration.unlock_master`; the master
    is mailed ``user_unlocked``."""

    code = "master_unlock"
    label = "マスターユーザーのロック・閉塞解除"
    spec = "BANK-4"

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        master = _the_master(dbsession, contract)
        if state_of(master, now) == UserState.NORMAL:
            raise RequestRefused(NOT_LOCKED)
        return Filing(target=master, reason=state_of(master, now).label)

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        try:
            unlocked = approver.users.unlock_master(_live_target(request_row), approver.staff_id)
        except UserAdminError as error:
            raise RequestRefused(error.message) from None
        if not unlocked:
            raise RequestRefused(NOT_LOCKED)


def _initial_password_audit(
    dbsession: Session, action: str, contract: Contract, approver: Approver, **details: Any
) -> None:
    audit.record(
        dbsession,
        action,
        actor=approver.staff_id,
        actor_kind="bank",
        target=contract.contract_no,
        contract_no=contract.contract_no,
        request=approver.origin,
        details=details,
    )


def _notify_master(
    dbsession: Session, contract: Contract, approver: Approver, template: str
) -> None:
    """The contract's live master, if any, is told (the initial password has no address)."""
    master = live_master(dbsession, contract)
    if master is not None:
        approver.outbox.notify_user(master, template, contract_no=contract.contract_no)


@register_kind
class InitialPasswordChange(RequestKind):
    """初期パスワードの変更 from a new 初期パスワード届出書 (BANK-3): the contract's initial password
    replaced (a hash in the request until it is decided, then removed), its failure count restarted; a lock or block stays
    (lifting it is 初期パスワードの閉塞解除). Audited as ``contract.initial_password.change``."""

    code = "initial_password_change"
    label = "初期パスワードの変更（初期パスワード届出書）"
    spec = "BANK-3"
    transient_params = frozenset({"initial_password_hash"})

    def fields(self, dbsession: Session, contract: Contract) -> dict[str, Field]:
        return {
            "initial_password": PasswordField(
                "新しい初期パスワード",
                [required("新しい初期パスワード"), rule(rules.check_initial_password)],
            ),
            "initial_password_confirm": PasswordField(
                "新しい初期パスワード（再入力）",
                [
                    required("新しい初期パスワード（再入力）"),
                    same_as("initial_password", INITIAL_PASSWORD_MISMATCH),
                ],
            ),
        }

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        return Filing(
            reason="初期パスワード届出書",
            params={"initial_password_hash": hash_password(form.initial_password.data)},
        )

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        contract: Contract = lockout.lock_row(dbsession, Contract, request_row.contract_id)
        contract.initial_password_hash = request_row.params["initial_password_hash"]
        contract.initial_failed_count = 0
        dbsession.flush()
        _initial_password_audit(dbsession, "contract.initial_password.change", contract, approver)
        _notify_master(dbsession, contract, approver, "initial_password_changed")


@register_kind
class InitialPasswordUnblock(RequestKind):
    """初期パスワードの閉塞（ロックアウト）解除 (BANK-3, AUTH-2): the lock or block of the contract's
    initial password lifted and its counters cleared. Audited as
    ``contract.initial_password.unblock``."""

    code = "initial_password_unblock"
    label = "初期パスワードの閉塞（ロックアウト）解除"
    spec = "BANK-3"

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        if lockout.state(contract, lockout.INITIAL_PASSWORD, now) is None:
            raise RequestRefused(INITIAL_NOT_LOCKED)
        return Filing()

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        contract: Contract = lockout.lock_row(dbsession, Contract, request_row.contract_id)
        before = lockout.state(contract, lockout.INITIAL_PASSWORD, approver.now)
        if before is None:
            raise RequestRefused(INITIAL_NOT_LOCKED)
        lockout.reset(contract, lockout.INITIAL_PASSWORD)
        dbsession.flush()
        _initial_password_audit(
            dbsession, "contract.initial_password.unblock", contract, approver, state=before.value
        )
        _notify_master(dbsession, contract, approver, "initial_password_unblocked")


@register_kind
class UserIdChange(RequestKind):
    """ユーザーIDの変更 (BANK-8) of the master or a general user, through
    :meth:`~core.accounts.users.UserAdministration.change_user_id`: the same user row, so its
    certificates, history and audit trail stay (the old ID kept as a former ID, never given again);
    the user is mailed ``user_id_changed``."""

    code = "user_id_change"
    label = "ユーザーIDの変更"
    spec = "BANK-8"

    def fields(self, dbsession: Session, contract: Contract) -> dict[str, Field]:
        return {
            "target_user": _user_field(dbsession, contract),
            "new_user_id": StringField(
                "新しいユーザーID", [required("新しいユーザーID"), rule(rules.check_user_id)]
            ),
        }

    def validate(
        self, dbsession: Session, contract: Contract, form: Any, now: dt.datetime
    ) -> Filing:
        user = _picked_user(dbsession, contract, form.target_user.data)
        new_user_id = form.new_user_id.data
        if new_user_id == user.user_id:
            raise RequestRefused(SAME_USER_ID, "new_user_id")
        if user_id_in_use(dbsession, new_user_id):
            raise RequestRefused(ID_TAKEN, "new_user_id")
        return Filing(target=user, params={"new_user_id": new_user_id})

    def describe(self, row: StaffRequest) -> list[tuple[str, str]]:
        return [("新しいユーザーID", row.params["new_user_id"])]

    def apply(self, dbsession: Session, request_row: StaffRequest, approver: Approver) -> None:
        target = _live_target(request_row)
        try:
            approver.users.change_user_id(
                target, request_row.params["new_user_id"], approver.staff_id
            )
        except UserAdminError as error:
            raise RequestRefused(error.message) from None
