"""The core data model: contracts, deposit groups, module enablement, users, certificates, audit.

SQLAlchemy 2 typed mappings. Times are stored as UTC and come back timezone-aware. Migrations in
``migrations/`` must give exactly this schema (a test compares them on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.clock import utcnow as utcnow  # the column default; re-exported for older imports
from core.i18n import _


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC on every database and returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware times")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ContractKind(enum.StrEnum):
    """会員 (member organisation) or 事業主 (employer)."""

    MEMBER = "member"
    EMPLOYER = "employer"

    @property
    def label(self) -> str:
        """会員 or 事業主, in the screen's language (a message)."""
        return {"member": _("会員"), "employer": _("事業主")}[self.value]


class Role(enum.StrEnum):
    """マスターユーザー (one per contract) or 一般ユーザー (at most ten)."""

    MASTER = "master"
    GENERAL = "general"


#: The rows the one-master rule counts (FLOW-1): masters not deleted (BANK-4), as SQL for the index.
LIVE_MASTER = "role = 'master' AND deleted_at IS NULL"


class CertificateStatus(enum.StrEnum):
    """A certificate is valid until revoked; expiry is read from ``not_after``."""

    VALID = "valid"
    REVOKED = "revoked"


class Contract(Base):
    """A customer contract (契約): number, kind, organisation, and its initial password."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_no: Mapped[str] = mapped_column(String(8), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    organisation_name: Mapped[str] = mapped_column(String(100))
    initial_password_hash: Mapped[str] = mapped_column(String(255))
    initial_failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    initial_lock_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    initial_locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    initial_blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    deposit_groups: Mapped[list[DepositGroup]] = relationship(
        back_populates="contract", order_by="DepositGroup.group_no", cascade="all, delete-orphan"
    )
    users: Mapped[list[User]] = relationship(back_populates="contract", order_by="User.id")


class DepositGroup(Base):
    """A deposit group (入金グループ) of a contract: 8-digit number, kanji and kana names."""

    __tablename__ = "deposit_groups"
    __table_args__ = (UniqueConstraint("contract_id", "group_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    group_no: Mapped[str] = mapped_column(String(8))
    name_kanji: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str] = mapped_column(String(100))

    contract: Mapped[Contract] = relationship(back_populates="deposit_groups")
    module_enablements: Mapped[list[ModuleEnablement]] = relationship(
        back_populates="deposit_group", cascade="all, delete-orphan", order_by="ModuleEnablement.id"
    )


class ModuleEnablement(Base):
    """A service module the bank enabled for a deposit group, with the module's options."""

    __tablename__ = "module_enablements"
    __table_args__ = (UniqueConstraint("deposit_group_id", "module_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deposit_group_id: Mapped[int] = mapped_column(ForeignKey("deposit_groups.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    deposit_group: Mapped[DepositGroup] = relationship(back_populates="module_enablements")


class User(Base):
    """A contract user (master or general) with its password credential and lockout counters."""

    __tablename__ = "users"
    __table_args__ = (
        # FLOW-1: one live master per contract, enforced by the database itself; a master the bank
        # deleted (BANK-4) keeps its row and no longer counts.
        Index(
            "uq_users_one_master_per_contract",
            "contract_id",
            unique=True,
            sqlite_where=text(LIVE_MASTER),
            postgresql_where=text(LIVE_MASTER),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(12), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_is_temporary: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lock_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    previous_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The language of the screens the user last used ("ja" or "en", SPEC 8): mails the user's own
    #: request did not cause (a job's notice, the master's or the bank's action) are written in it.
    language: Mapped[str] = mapped_column(String(8), default="ja", server_default="ja")
    #: A deleted user keeps its row (its certificates stay in the CRL, its audit history stays)
    #: and its user ID is never given again (ACC-1).
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="users")
    restrictions: Mapped[list[UserRestriction]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="user", order_by="Certificate.not_before"
    )

    @property
    def is_live_master(self) -> bool:
        """Whether this user is its contract's master and not deleted (the one FLOW-1 counts)."""
        return self.role == Role.MASTER and self.deleted_at is None


class UserRestriction(Base):
    """ユーザー別機能制限 (ACC-7): a user's level for one module; no row means 表示."""

    __tablename__ = "user_restrictions"
    __table_args__ = (UniqueConstraint("user_pk", "module_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="restrictions")


class IssuedCertificateColumns:
    """What the CA records of every certificate it issues, a customer's or a staff member's: serial,
    names, fingerprint, validity and revocation (CERT-6: the CRL lists both kinds)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.VALID)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    first_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Certificate(IssuedCertificateColumns, Base):
    """A customer's client certificate issued by our CA; the private key is never stored."""

    __tablename__ = "certificates"

    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expiry_notice_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expired_notice_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="certificates")

    @property
    def holder_id(self) -> str:
        """Whose certificate it is, as the audit log names them: the user ID."""
        return self.user.user_id

    @property
    def contract_no(self) -> str | None:
        """The holder's contract number (the audit log files the event under it)."""
        return self.user.contract.contract_no


class AuditEvent(Base):
    """An append-only record of a security-relevant action: who, what, target, result, when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(128))
    contract_no: Mapped[str | None] = mapped_column(String(8), index=True)
    result: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(36))
    client_addr: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    #: The event's place in the hash chain (1, 2, …) and its hash (core.audit.chain, #14 item 6);
    #: set as the event is flushed. Unique: no two events may claim the same predecessor.
    chain_seq: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)
    chain_hash: Mapped[str | None] = mapped_column(String(64))


class Manual(Base):
    """A manual or form the bank registered for マニュアル照会 (BANK-7): a PDF with its name and comment."""

    __tablename__ = "manuals"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(String(255), default="")
    #: Who sees it: member (会員), employer (事業主) or both.
    audience: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64), default="application/pdf")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sort_order: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the bank withdrew it: kept for the audit trail, no longer shown in マニュアル照会.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MessageAudience(enum.StrEnum):
    """Who an information-screen message (お知らせ) is for: everyone, a contract kind, one contract,
    or one deposit group."""

    ALL = "all"
    MEMBER = "member"
    EMPLOYER = "employer"
    CONTRACT = "contract"
    GROUP = "group"


class Message(Base):
    """An お知らせ the bank publishes on the information screens (BANK-6): 掲載日, 件名, メッセージ,
    its audience, and when it is published and withdrawn.

    ``message_no`` is the bank's own number: loading a file again updates the message, never adds
    a second one. ``contract_id`` is set for the audiences contract and group, ``deposit_group_id``
    for group only.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(
            "audience IN ('all', 'member', 'employer', 'contract', 'group')", name="audience"
        ),
        CheckConstraint(
            "(audience IN ('contract', 'group')) = (contract_id IS NOT NULL)"
            " AND (audience = 'group') = (deposit_group_id IS NOT NULL)",
            name="audience_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_no: Mapped[str] = mapped_column(String(10), unique=True)
    posted_on: Mapped[dt.date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    deposit_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("deposit_groups.id"), index=True
    )
    publish_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    withdraw_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeductionSchedule(Base):
    """One row of the deduction schedule (【スケジュール】, SPEC 6.1 and 6.5) of a deposit group: a
    cycle's 控除年月 with its 締切日, the dates the request and result data came in, and the 支給日.

    Shared by the deduction modules (労金控除, 賃控元帳): ``core.modules.schedules`` reads it, the
    bank loads it. ``deduction_month`` is the first day of the month.
    """

    __tablename__ = "deduction_schedules"
    __table_args__ = (
        UniqueConstraint("deposit_group_id", "cycle", "deduction_month"),
        CheckConstraint("cycle IN ('monthly', 'summer', 'winter')", name="cycle"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deposit_group_id: Mapped[int] = mapped_column(ForeignKey("deposit_groups.id"), index=True)
    cycle: Mapped[str] = mapped_column(String(16))
    deduction_month: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    request_received_on: Mapped[dt.date | None] = mapped_column(Date)
    result_received_on: Mapped[dt.date | None] = mapped_column(Date)
    payment_on: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebSession(Base):
    """A browser session (AUTH-6): the cookie token's SHA-256, its data and its times; bound to a
    customer user or to a staff member once signed in."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Which application's session: ``customer`` or ``staff`` (each reads only its own).
    app: Mapped[str] = mapped_column(String(16), default="customer", server_default="customer")
    user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    staff_pk: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class EmailCode(Base):
    """An emailed authentication code (AUTH-3), stored only as a salted hash, bound to a flow."""

    __tablename__ = "email_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    flow_id: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StaffMember(Base):
    """A bank staff account of the back office (#14): staff ID, name, roles, its password with the
    customers' lockout counters (AUTH-1, AUTH-2: the same column names, ``core.auth.lockout``).

    ``roles`` holds the ``core.staff.roles.StaffRole`` names, comma-separated (one or more).
    ``blocked_at`` is set by the lockout's third lock and by an administrator's lock; ``disabled_at``
    ends the account for good (its row, certificates and audit history stay).
    """

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    roles: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_is_temporary: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lock_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    certificates: Mapped[list[StaffCertificate]] = relationship(
        back_populates="staff", order_by="StaffCertificate.issued_at"
    )


class StaffCertificate(IssuedCertificateColumns, Base):
    """A staff member's client certificate, of the CA's staff profile (``core.pki.staff``)."""

    __tablename__ = "staff_certificates"

    staff_pk: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)

    staff: Mapped[StaffMember] = relationship(back_populates="certificates")

    @property
    def holder_id(self) -> str:
        """Whose certificate it is, as the audit log names them: the staff ID."""
        return self.staff.staff_id

    @property
    def contract_no(self) -> str | None:
        """None: a staff certificate belongs to no contract."""
        return None


class OutboxMessage(Base):
    """An email written in the transaction that caused it, sent to SMTP after commit (section 7)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    #: The body, sealed with the key for data at rest (``core.secrets``, the Message-ID as associated
    #: data) until it is sent, then None: a copy of the database holds no mailed code (AUTH-3, #12).
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(255))


class StaffRequestState(enum.StrEnum):
    """Where a paper request (seed 003) stands: filed and waiting for 検印, or decided."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class StaffRequest(Base):
    """A paper request the bank received (seed 003's 依頼書, BANK-2..5, BANK-8), carried out only
    once a second staff member approves it (four eyes, ``core.staff.requests``).

    The form's fields as written, the kind and its parameters (``params``: what the kind needs, a new
    password only as a hash), the contract and the target user, who received it (受付者,
    ``filed_by``) and who decided it (検印, ``decided_by``) with the seal check (印鑑照合).
    """

    __tablename__ = "staff_requests"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'approved', 'rejected', 'withdrawn')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=StaffRequestState.PENDING, index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    target_user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: 依頼日 and the form's 依頼者 block, as written on the paper.
    requested_on: Mapped[dt.date] = mapped_column(Date)
    postal_code: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(200))
    organisation_name: Mapped[str] = mapped_column(String(100))
    representative_title: Mapped[str] = mapped_column(String(50))
    representative_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    fax: Mapped[str] = mapped_column(String(20))
    contact_person: Mapped[str] = mapped_column(String(50))
    contract_no: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: 受付者: the staff member who received and filed it.
    filed_by: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: 検印 (approved or rejected) or the filer's withdrawal.
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: 印鑑照合: the approver compared the お申込印 with the registered seal.
    seal_checked: Mapped[bool] = mapped_column(default=False)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    contract: Mapped[Contract] = relationship()
    target_user: Mapped[User | None] = relationship()


class FormerUserId(Base):
    """A user ID a user had before the bank changed it (BANK-8): the audit trail names the user by
    it, and it is never given again (ACC-1)."""

    __tablename__ = "former_user_ids"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(12), unique=True)
    replaced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(mapper: Any, connection: Any, target: AuditEvent) -> None:
    raise PermissionError("audit events are append-only")
