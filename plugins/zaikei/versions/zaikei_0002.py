"""zaikei: the inquiry's indexes end with the sort's tie-breaker, id (#13)

Revision ID: zaikei_0002
Revises: zaikei_0001
Create Date: 2026-12-01 06:30:00

The inquiry sorts by (<column>, id) so that pages never overlap (core.inquiry). SQLite's indexes
carry the rowid and served that order already; PostgreSQL's did not, and sorted the whole run for
every page. With id last, both read a page's keys from the index, in order. See
core.security.tenancy.batch_line_indexes.
"""

from __future__ import annotations

from alembic import op

revision = "zaikei_0002"
down_revision = "zaikei_0001"
branch_labels = None
depends_on = None

SCOPE = ["contract_id", "deposit_group_id", "run_id"]
INDEXES = {
    "ix_zaikei_details_group_run_employee": ("zaikei_details", "employee_no"),
    "ix_zaikei_details_group_run_kana": ("zaikei_details", "name_kana"),
    "ix_zaikei_details_group_run_balance": ("zaikei_details", "balance"),
    "ix_zaikei_changes_group_run_employee": ("zaikei_changes", "employee_no"),
}


def _replace(with_id: bool) -> None:
    for name, (table, column) in INDEXES.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [*SCOPE, column, *(["id"] if with_id else [])])


def upgrade() -> None:
    _replace(with_id=True)


def downgrade() -> None:
    _replace(with_id=False)
