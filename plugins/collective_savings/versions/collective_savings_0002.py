"""collective_savings: indexes led by the tenancy scope and the round (#13, inquiry at 100,000 rows)

Revision ID: collective_savings_0002
Revises: collective_savings_0001
Create Date: 2026-12-01 01:10:00

Every query of the module is scoped to the contract and deposit group (core.security.tenancy) and
the inquiry filters by round and sorts by 職員番号, カナ氏名 or 積立金額: an index (contract_id,
deposit_group_id, round_id, <sort>) serves the count and the page's ids from the index alone, and
the sort without a sort step.
"""

from __future__ import annotations

from alembic import op

revision = "collective_savings_0002"
down_revision = "collective_savings_0001"
branch_labels = None
depends_on = None

OLD = {
    "ix_collective_savings_details_round_employee": (
        "collective_savings_details",
        ["round_id", "employee_no"],
    ),
    "ix_collective_savings_details_round_kana": (
        "collective_savings_details",
        ["round_id", "name_kana"],
    ),
    "ix_collective_savings_changes_round_employee": (
        "collective_savings_changes",
        ["round_id", "employee_no"],
    ),
}
NEW = {
    "ix_collective_savings_details_group_round_employee": (
        "collective_savings_details",
        ["contract_id", "deposit_group_id", "round_id", "employee_no"],
    ),
    "ix_collective_savings_details_group_round_kana": (
        "collective_savings_details",
        ["contract_id", "deposit_group_id", "round_id", "name_kana"],
    ),
    "ix_collective_savings_details_group_round_amount": (
        "collective_savings_details",
        ["contract_id", "deposit_group_id", "round_id", "amount"],
    ),
    "ix_collective_savings_changes_group_round_employee": (
        "collective_savings_changes",
        ["contract_id", "deposit_group_id", "round_id", "employee_no"],
    ),
}


def upgrade() -> None:
    for name, (table, _columns) in OLD.items():
        op.drop_index(name, table_name=table)
    for name, (table, columns) in NEW.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in NEW.items():
        op.drop_index(name, table_name=table)
    for name, (table, columns) in OLD.items():
        op.create_index(name, table, columns)
