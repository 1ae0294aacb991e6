"""the language each user last used (#15, SPEC 8)

Revision ID: 0010_user_language
Revises: 0009_staff_accounts
Create Date: 2026-12-01 14:00:00

Written by hand: ``users.language`` holds the language of the screens the user last used ("ja" or
"en"), kept current by the customer app on each logged-in request. A mail the user's own request
did not cause (the daily job's certificate notices, the master's or the bank's action on the user)
is written in it. Every existing user gets "ja", the language all mails had until now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_user_language"
down_revision = "0009_staff_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="ja", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
