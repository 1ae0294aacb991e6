"""example_notes: the notes table

Revision ID: example_notes_0001
Revises:
Create Date: 2026-11-30 22:00:00

The first revision of the module's own branch: it carries the branch label and depends on the core
revision whose tables it refers to (deposit_groups).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "example_notes_0001"
down_revision = None
branch_labels = ("example_notes",)
depends_on = "0003_users_deleted_manuals"


def upgrade() -> None:
    op.create_table(
        "example_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deposit_group_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deposit_group_id"],
            ["deposit_groups.id"],
            name=op.f("fk_example_notes_deposit_group_id_deposit_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_example_notes")),
    )
    op.create_index(
        op.f("ix_example_notes_deposit_group_id"), "example_notes", ["deposit_group_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_example_notes_deposit_group_id"), table_name="example_notes")
    op.drop_table("example_notes")
