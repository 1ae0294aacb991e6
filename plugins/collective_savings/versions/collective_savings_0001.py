"""collective_savings: rounds, details and change details (SPEC 6.3, #13)

Revision ID: collective_savings_0001
Revises:
Create Date: 2026-12-01 00:00:00

The first revision of the module's own branch; it depends on the core revision of the contracts and
deposit groups its rows belong to.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "collective_savings_0001"
down_revision = None
branch_labels = ("collective_savings",)
depends_on = "0003_users_deleted_manuals"


def _scope_columns(table: str) -> list[Any]:
    return [
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("deposit_group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f(f"fk_{table}_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["deposit_group_id"],
            ["deposit_groups.id"],
            name=op.f(f"fk_{table}_deposit_group_id_deposit_groups"),
        ),
    ]


def _person_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("employee_no", sa.String(length=10), nullable=False),
        sa.Column("name_kana", sa.String(length=30), nullable=False),
        sa.Column("name_kanji", sa.String(length=20), nullable=False),
        sa.Column("branch_no", sa.String(length=3), nullable=False),
        sa.Column("account_no", sa.String(length=7), nullable=False),
    ]


def _scope_indexes(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_contract_id"), table, ["contract_id"])
    op.create_index(op.f(f"ix_{table}_deposit_group_id"), table, ["deposit_group_id"])


def upgrade() -> None:
    rounds = "collective_savings_rounds"
    op.create_table(
        rounds,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_no", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("extraordinary", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        *_scope_columns(rounds),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{rounds}")),
        sa.UniqueConstraint(
            "deposit_group_id", "round_no", name=op.f(f"uq_{rounds}_deposit_group_id_round_no")
        ),
    )
    _scope_indexes(rounds)
    for table, extra in (
        ("collective_savings_details", [sa.Column("amount", sa.Integer(), nullable=False)]),
        (
            "collective_savings_changes",
            [
                sa.Column("change_kind", sa.String(length=2), nullable=False),
                sa.Column("amount_before", sa.Integer(), nullable=False),
                sa.Column("amount_after", sa.Integer(), nullable=False),
            ],
        ),
    ):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            *_person_columns(),
            *extra,
            *_scope_columns(table),
            sa.ForeignKeyConstraint(
                ["round_id"], [f"{rounds}.id"], name=op.f(f"fk_{table}_round_id_{rounds}")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        _scope_indexes(table)
        op.create_index(f"ix_{table}_round_employee", table, ["round_id", "employee_no"])
    op.create_index(
        "ix_collective_savings_details_round_kana",
        "collective_savings_details",
        ["round_id", "name_kana"],
    )


def downgrade() -> None:
    op.drop_table("collective_savings_changes")
    op.drop_table("collective_savings_details")
    op.drop_table("collective_savings_rounds")
