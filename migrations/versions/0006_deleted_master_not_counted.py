"""one master per contract: a deleted master no longer counts (#14, BANK-4, FLOW-1)

Revision ID: 0006_deleted_master_not_counted
Revises: 0005_outbox_sealed_body
Create Date: 2026-12-01 01:30:00

Written by hand: autogenerate does not compare an index's WHERE clause. The partial unique index
``uq_users_one_master_per_contract`` counted every master, so a master the bank deleted (its row
kept for the history and the audit trail) barred the contract from registering a new one. It is
recreated over the live masters only (``deleted_at IS NULL``). The upgrade only widens what the
database accepts. The downgrade narrows it again: a contract that has a deleted master and a new one
cannot go back, and the downgrade stops naming those contracts (the SQL script mode cannot look).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0006_deleted_master_not_counted"
down_revision = "0005_outbox_sealed_body"
branch_labels = None
depends_on = None

INDEX = "uq_users_one_master_per_contract"
EVERY_MASTER = "role = 'master'"
LIVE_MASTER = "role = 'master' AND deleted_at IS NULL"


def _recreate(old_where: str, new_where: str) -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(
            INDEX, sqlite_where=sa.text(old_where), postgresql_where=sa.text(old_where)
        )
        batch_op.create_index(
            INDEX,
            ["contract_id"],
            unique=True,
            sqlite_where=sa.text(new_where),
            postgresql_where=sa.text(new_where),
        )


def upgrade() -> None:
    _recreate(EVERY_MASTER, LIVE_MASTER)


def downgrade() -> None:
    if not context.is_offline_mode():
        users = sa.table("users", sa.column("contract_id"), sa.column("role"))
        contracts = list(
            op.get_bind().scalars(
                sa.select(users.c.contract_id)
                .where(users.c.role == "master")
                .group_by(users.c.contract_id)
                .having(sa.func.count() > 1)
                .order_by(users.c.contract_id)
            )
        )
        if contracts:
            raise RuntimeError(
                f"{INDEX}: contracts (id) {contracts} have a deleted master and a new one; "
                "a downgrade would have to drop one of them"
            )
    _recreate(LIVE_MASTER, EVERY_MASTER)
