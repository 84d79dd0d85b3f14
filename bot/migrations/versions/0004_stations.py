"""stations: station staff, accepting and assigning work orders, parts per step

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


def downgrade() -> None:
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
