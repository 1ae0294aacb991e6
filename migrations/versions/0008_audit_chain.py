"""audit events chained by hash; manuals withdrawn (#14 items 5 and 6, BANK-7)

Revision ID: 0008_audit_chain
Revises: 0007_staff_requests
Create Date: 2026-12-01 03:15:00

Written by hand. ``audit_events`` gains ``chain_seq`` (unique: no two events may claim the same
predecessor) and ``chain_hash`` (core.audit.chain). Columns are added in place, never by SQLite's
batch copy, which would lose the append-only triggers. The events already there are chained in the
upgrade, in the order of their ids (the order they were written), so ``cjs audit verify`` holds on
an upgraded database from the first event; for that one statement the UPDATE trigger is lifted
inside the migration's transaction and put back. The hash is computed by ``core.audit.chain``
(format version 1, which never changes: a new format gets a new version). In offline mode (``--sql``)
the existing rows cannot be read: they stay unchained and ``cjs audit verify`` names the first.

``manuals`` gains ``withdrawn_at``: a withdrawn manual is kept (the audit trail names it) but no
longer shown in マニュアル照会.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from core.audit.chain import GENESIS, HASHED_FIELDS, event_hash

revision = "0008_audit_chain"
down_revision = "0007_staff_requests"
branch_labels = None
depends_on = None

BATCH = 1000
APPEND_ONLY_MESSAGE = "audit_events is append-only"
SQLITE_NO_UPDATE = f"""
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN
        SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: UPDATE refused');
    END
"""


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("chain_seq", sa.Integer(), nullable=True))
    op.add_column("audit_events", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_audit_events_chain_seq"), "audit_events", ["chain_seq"], unique=True)
    op.add_column("manuals", sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
    if not context.is_offline_mode():
        _chain_existing_events()


def downgrade() -> None:
    op.drop_column("manuals", "withdrawn_at")
    op.drop_index(op.f("ix_audit_events_chain_seq"), table_name="audit_events")
    op.drop_column("audit_events", "chain_hash")
    op.drop_column("audit_events", "chain_seq")


def _chain_existing_events() -> None:
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer()),
        sa.column("chain_seq", sa.Integer()),
        sa.column("chain_hash", sa.String()),
        sa.column("occurred_at", sa.DateTime()),
        sa.column("details", sa.JSON()),
        *(
            sa.column(name, sa.String())
            for name in HASHED_FIELDS
            if name not in ("occurred_at", "details")
        ),
    )
    bind = op.get_bind()
    if bind.scalar(sa.select(sa.func.count()).select_from(events)) == 0:
        return
    dialect = bind.dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER audit_events_no_update")
    else:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
    update = (
        sa.update(events)
        .where(events.c.id == sa.bindparam("event_id"))
        .values(chain_seq=sa.bindparam("seq"), chain_hash=sa.bindparam("hash"))
    )
    previous, pending = GENESIS, []
    rows = bind.execute(
        sa.select(events.c.id, *(events.c[name] for name in HASHED_FIELDS)).order_by(events.c.id)
    ).all()
    for seq, row in enumerate(rows, start=1):
        previous = event_hash(seq, {name: getattr(row, name) for name in HASHED_FIELDS}, previous)
        pending.append({"event_id": row.id, "seq": seq, "hash": previous})
        if len(pending) == BATCH:
            bind.execute(update, pending)
            pending = []
    if pending:
        bind.execute(update, pending)
    if dialect == "sqlite":
        op.execute(SQLITE_NO_UPDATE)
    else:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update")
