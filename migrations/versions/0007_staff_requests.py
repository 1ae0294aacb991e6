"""staff requests (paper requests with four eyes) and former user IDs (#14, BANK-2..5, BANK-8)

Revision ID: 0007_staff_requests
Revises: 0006_deleted_master_not_counted
Create Date: 2026-12-01 03:20:00

Written by hand after the models (``StaffRequest``, ``FormerUserId``); checked by the migration
tests against the models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_staff_requests"
down_revision = "0006_deleted_master_not_counted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("target_user_pk", sa.Integer(), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("postal_code", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("organisation_name", sa.String(length=100), nullable=False),
        sa.Column("representative_title", sa.String(length=50), nullable=False),
        sa.Column("representative_name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("fax", sa.String(length=20), nullable=False),
        sa.Column("contact_person", sa.String(length=50), nullable=False),
        sa.Column("contract_no", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("seal_checked", sa.Boolean(), nullable=False),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_staff_requests_state"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_staff_requests_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["target_user_pk"], ["users.id"], name=op.f("fk_staff_requests_target_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_requests")),
    )
    for column in ("contract_id", "phone", "state", "target_user_pk"):
        op.create_index(
            op.f(f"ix_staff_requests_{column}"), "staff_requests", [column], unique=False
        )
    op.create_table(
        "former_user_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=12), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_former_user_ids_user_pk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_former_user_ids")),
        sa.UniqueConstraint("user_id", name=op.f("uq_former_user_ids_user_id")),
    )
    op.create_index(
        op.f("ix_former_user_ids_user_pk"), "former_user_ids", ["user_pk"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_former_user_ids_user_pk"), table_name="former_user_ids")
    op.drop_table("former_user_ids")
    for column in ("contract_id", "phone", "state", "target_user_pk"):
        op.drop_index(op.f(f"ix_staff_requests_{column}"), table_name="staff_requests")
    op.drop_table("staff_requests")
