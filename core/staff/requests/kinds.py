"""The kinds of paper request (seed 003's 手続依頼区分, seed 001 p.43–45), each applied through the
existing services: the revocation service (BANK-5).

ご契約番号照会 (BANK-2) is not a kind: looking a contract up and printing its notice changes nothing,
so it is a direct, audited action of the operator (``core.staff.requests.lookup``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from wtforms import Field

from core.db.models import Certificate, CertificateStatus, Contract, StaffRequest, User
from core.pki import certificates
from core.staff.requests.base import (
    Approver,
    Filing,
    RequestKind,
    RequestRefused,
    live_users,
    register_kind,
    user_choice,
)
from core.staff.requests.forms import NOT_A_CHOICE, Choice, choices

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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

    def validate(self, dbsession: Session, contract: Contract, form: Any) -> Filing:
        user = _picked_user(dbsession, contract, form.target_user.data)
        if not _valid_certificates(dbsession, user):
            raise RequestRefused(NO_VALID_CERTIFICATE, "target_user")
        reason = form.revocation_reason.data
        return Filing(
            target=user, reason=REVOCATION_REASON_LABELS[reason], params={"rfc5280": reason}
        )

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
