"""staff accounts, staff certificates, staff sessions (#14, AUTH-1, AUTH-2, AUTH-8, CERT-6)

Revision ID: 0009_staff_accounts
Revises: 0008_audit_chain
Create Date: 2026-12-01 03:20:00

Written by hand after the models: ``staff_members`` (roles, password, the customers' lockout
counters), ``staff_certificates`` (the CA's staff profile; the CRL lists them beside the customers')
and, on ``web_sessions``, the application a session belongs to and the staff member it is bound to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_staff_accounts"
down_revision = "0008_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("password_is_temporary", sa.Boolean(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lock_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("blocked_at", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_staff_members_staff_id")),
    )
    op.create_table(
        "staff_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("first_used_at", sa.DateTime(), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("staff_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_pk"],
            ["staff_members.id"],
            name=op.f("fk_staff_certificates_staff_pk_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_certificates")),
        sa.UniqueConstraint(
            "fingerprint_sha256", name=op.f("uq_staff_certificates_fingerprint_sha256")
        ),
        sa.UniqueConstraint("serial", name=op.f("uq_staff_certificates_serial")),
    )
    with op.batch_alter_table("staff_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_certificates_staff_pk"), ["staff_pk"], unique=False
        )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("app", sa.String(length=16), server_default="customer", nullable=False)
        )
        batch_op.add_column(sa.Column("staff_pk", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_web_sessions_staff_pk"), ["staff_pk"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_web_sessions_staff_pk_staff_members"),
            "staff_members",
            ["staff_pk"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_web_sessions_staff_pk_staff_members"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_web_sessions_staff_pk"))
        batch_op.drop_column("staff_pk")
        batch_op.drop_column("app")
    with op.batch_alter_table("staff_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_certificates_staff_pk"))
    op.drop_table("staff_certificates")
    op.drop_table("staff_members")
