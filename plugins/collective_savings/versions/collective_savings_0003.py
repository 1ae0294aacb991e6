"""collective_savings: the inquiry's indexes end with the sort's tie-breaker, id (#13)

Revision ID: collective_savings_0003
Revises: collective_savings_0002
Create Date: 2026-12-01 06:30:00

The inquiry sorts by (<column>, id) so that pages never overlap (core.inquiry). SQLite's indexes
carry the rowid and served that order already; PostgreSQL's did not, and sorted the whole round for
every page (100,000 lines: about 100 ms). With id last, both read a page's keys from the index, in
order. See core.security.tenancy.batch_line_indexes.
"""

from __future__ import annotations

from alembic import op

revision = "collective_savings_0003"
down_revision = "collective_savings_0002"
branch_labels = None
depends_on = None

SCOPE = ["contract_id", "deposit_group_id", "round_id"]
INDEXES = {
    "ix_collective_savings_details_group_round_employee": (
        "collective_savings_details",
        "employee_no",
    ),
    "ix_collective_savings_details_group_round_kana": ("collective_savings_details", "name_kana"),
    "ix_collective_savings_details_group_round_amount": ("collective_savings_details", "amount"),
    "ix_collective_savings_changes_group_round_employee": (
        "collective_savings_changes",
        "employee_no",
    ),
}


def _replace(with_id: bool) -> None:
    for name, (table, column) in INDEXES.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [*SCOPE, column, *(["id"] if with_id else [])])


def upgrade() -> None:
    _replace(with_id=True)


def downgrade() -> None:
    _replace(with_id=False)
