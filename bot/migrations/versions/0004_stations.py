"""stations: station staff, accepting and assigning work orders, parts per step, repair
outcomes and draft fault cases

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table otherwise.
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station_code", sa.String(length=10), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_station_code_stations"), "stations", ["station_code"], ["code"]
        )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engineer", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("responded_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_work_orders_station_status", ["station_code", "status"], unique=False
        )
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=True))
    op.create_table(
        "repair_outcomes",
        sa.Column("work_order_id", sa.String(length=15), nullable=False),
        sa.Column("station_code", sa.String(length=10), nullable=False),
        sa.Column("model_code", sa.String(length=30), nullable=True),
        sa.Column("error_code", sa.String(length=30), nullable=True),
        sa.Column("root_cause", sa.String(length=30), nullable=False),
        sa.Column("fix", sa.String(length=30), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_repair_outcomes_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("work_order_id", name=op.f("pk_repair_outcomes")),
    )
    op.create_index(
        "ix_repair_outcomes_model_code", "repair_outcomes", ["model_code", "error_code"]
    )
    op.create_table(
        "case_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_code", sa.String(length=30), nullable=False),
        sa.Column("error_code", sa.String(length=30), nullable=False),
        sa.Column("root_cause", sa.String(length=30), nullable=False),
        sa.Column("fix", sa.String(length=30), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("case_code", sa.String(length=10), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["staff.id"], name=op.f("fk_case_drafts_reviewed_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_drafts")),
        sa.UniqueConstraint(
            "model_code",
            "error_code",
            "root_cause",
            "fix",
            name=op.f("uq_case_drafts_model_code"),
        ),
    )
    op.create_index("ix_case_drafts_status", "case_drafts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_case_drafts_status", table_name="case_drafts")
    op.drop_table("case_drafts")
    op.drop_index("ix_repair_outcomes_model_code", table_name="repair_outcomes")
    op.drop_table("repair_outcomes")
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.drop_column("parts")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_station_status")
        batch_op.drop_column("responded_at")
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("engineer")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_staff_station_code_stations"), type_="foreignkey")
        batch_op.drop_column("station_code")
