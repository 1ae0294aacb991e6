"""zaikei: runs, savings details and change details (SPEC 6.4, #13 item 4)

Revision ID: zaikei_0001
Revises:
Create Date: 2026-12-01 01:00:00

The first revision of the module's own branch; it depends on the core revision of the contracts and
deposit groups its rows belong to.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "zaikei_0001"
down_revision = None
branch_labels = ("zaikei",)
depends_on = "0003_users_deleted_manuals"


def _scope(table: str) -> list[Any]:
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


def _person(table: str) -> list[Any]:
    return [
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("employee_no", sa.String(length=10), nullable=False),
        sa.Column("name_kana", sa.String(length=30), nullable=False),
        sa.Column("name_kanji", sa.String(length=20), nullable=False),
        sa.Column("savings_kind", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["zaikei_runs.id"], name=op.f(f"fk_{table}_run_id_zaikei_runs")
        ),
    ]


def _indexes(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_contract_id"), table, ["contract_id"])
    op.create_index(op.f(f"ix_{table}_deposit_group_id"), table, ["deposit_group_id"])


def upgrade() -> None:
    op.create_table(
        "zaikei_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(length=1), nullable=False),
        sa.Column("basis_date", sa.Date(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        *_scope("zaikei_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zaikei_runs")),
        sa.UniqueConstraint(
            "deposit_group_id",
            "document",
            "basis_date",
            name=op.f("uq_zaikei_runs_deposit_group_id_document_basis_date"),
        ),
    )
    _indexes("zaikei_runs")
    op.create_table(
        "zaikei_details",
        sa.Column("id", sa.Integer(), nullable=False),
        *_person("zaikei_details"),
        sa.Column("amount_monthly", sa.Integer(), nullable=False),
        sa.Column("amount_summer", sa.Integer(), nullable=False),
        sa.Column("amount_winter", sa.Integer(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        *_scope("zaikei_details"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zaikei_details")),
    )
    _indexes("zaikei_details")
    for name, sort in (("employee", "employee_no"), ("kana", "name_kana"), ("balance", "balance")):
        op.create_index(
            f"ix_zaikei_details_group_run_{name}",
            "zaikei_details",
            ["contract_id", "deposit_group_id", "run_id", sort],
        )
    op.create_table(
        "zaikei_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        *_person("zaikei_changes"),
        sa.Column("change_kind", sa.String(length=2), nullable=False),
        sa.Column("amount_before", sa.Integer(), nullable=False),
        sa.Column("amount_after", sa.Integer(), nullable=False),
        *_scope("zaikei_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zaikei_changes")),
    )
    _indexes("zaikei_changes")
    op.create_index(
        "ix_zaikei_changes_group_run_employee",
        "zaikei_changes",
        ["contract_id", "deposit_group_id", "run_id", "employee_no"],
    )


def downgrade() -> None:
    op.drop_table("zaikei_changes")
    op.drop_table("zaikei_details")
    op.drop_table("zaikei_runs")
