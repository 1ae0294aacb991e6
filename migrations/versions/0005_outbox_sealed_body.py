"""outbox: sealed bodies, removed once sent (#12, AUTH-3)

Revision ID: 0005_outbox_sealed_body
Revises: 0004_messages_schedules
Create Date: 2026-12-01 00:20:00

Written by hand. ``outbox_messages.body`` (the mail text in clear, kept after sending) becomes
``sealed_body`` (AES-GCM with the key of ``cjs.secrets.key_file``, None once sent). Rows already sent
lose their text: the mail left, and nothing may keep the codes it carried. Rows not yet sent are
sealed here, with the key of the settings ``cjs db upgrade`` read (``config.attributes["settings"]``,
set by ``core.db.migrate``), so no pending mail is lost; without settings, a database holding pending
mails is not migrated (an error names the cause). The downgrade opens the pending rows again, and
leaves an empty text in rows already sent. The SQL script mode (``--sql``) cannot seal or open rows:
run it only on a drained outbox.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0005_outbox_sealed_body"
down_revision = "0004_messages_schedules"
branch_labels = None
depends_on = None

_OUTBOX = sa.table(
    "outbox_messages",
    sa.column("id", sa.Integer()),
    sa.column("message_id", sa.String()),
    sa.column("body", sa.Text()),
    sa.column("sealed_body", sa.LargeBinary()),
    sa.column("sent_at", sa.DateTime()),
)


def _keys(pending: int) -> Any:
    settings = context.config.attributes.get("settings")
    if settings is None:
        raise RuntimeError(
            f"outbox_messages: {pending} mail(s) not yet sent must be sealed or opened with the key "
            "of cjs.secrets.key_file: migrate with 'cjs db upgrade' (or send them first)"
        )
    from core.secrets import keys_for

    return keys_for(settings)


def _pending(*columns: Any) -> list[Any]:
    """Rows of ``columns`` still to send (none in the SQL script mode: no database to ask)."""
    if context.is_offline_mode():
        return []
    return list(op.get_bind().execute(sa.select(*columns).where(_OUTBOX.c.sent_at.is_(None))))


def upgrade() -> None:
    # Read and seal first: a refusal (no key) leaves the table as it was, SQLite's DDL included.
    pending = _pending(_OUTBOX.c.id, _OUTBOX.c.message_id, _OUTBOX.c.body)
    keys = _keys(len(pending)) if pending else None
    sealed = {
        row_id: keys.seal(body, associated=message_id) for row_id, message_id, body in pending
    }
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_body", sa.LargeBinary(), nullable=True))
    for row_id, value in sealed.items():
        op.execute(_OUTBOX.update().where(_OUTBOX.c.id == row_id).values(sealed_body=value))
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("body")


def downgrade() -> None:
    pending = _pending(_OUTBOX.c.id, _OUTBOX.c.message_id, _OUTBOX.c.sealed_body)
    keys = _keys(len(pending)) if pending else None
    bodies = {
        row_id: keys.unseal(value, associated=message_id) for row_id, message_id, value in pending
    }
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
    for row_id, body in bodies.items():
        op.execute(_OUTBOX.update().where(_OUTBOX.c.id == row_id).values(body=body))
    op.execute(_OUTBOX.update().where(_OUTBOX.c.body.is_(None)).values(body=""))
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("sealed_body")
