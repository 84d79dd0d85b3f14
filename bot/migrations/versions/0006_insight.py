"""insight: early-warning alerts and their decisions, report rollups, conversation facts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:38:01.837398
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("model_code", sa.String(length=30), nullable=False),
        sa.Column("fault_code", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("rule", sa.String(length=12), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("arl0_days", sa.Float(), nullable=False),
        sa.Column("units", sa.Float(), nullable=True),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_alerts")),
        sa.UniqueConstraint(
            "raised_on", "model_code", "fault_code", name="uq_insight_alerts_cell_day"
        ),
    )
    with op.batch_alter_table("insight_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insight_alerts_raised_on"), ["raised_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_insight_alerts_status"), ["status"], unique=False)

    op.create_table(
        "report_conversations",
        sa.Column("conversation_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("user_turns", sa.Integer(), nullable=False),
        sa.Column("fallback_turns", sa.Integer(), nullable=False),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("model_code", sa.String(length=30), nullable=True),
        sa.Column("fault_code", sa.String(length=40), nullable=True),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_report_conversations")),
    )
    with op.batch_alter_table("report_conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_conversations_day"), ["day"], unique=False)

    op.create_table(
        "report_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("model_code", sa.String(length=30), nullable=False),
        sa.Column("station_code", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "metric", "model_code", "station_code", "key", name=op.f("pk_report_daily")
        ),
    )
    op.create_table(
        "insight_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["insight_alerts.id"],
            name=op.f("fk_insight_decisions_alert_id_insight_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_insight_decisions_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_decisions")),
    )
    with op.batch_alter_table("insight_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insight_decisions_alert_id"), ["alert_id"], unique=False
        )

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_created_at", ["created_at"], unique=False)

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.create_index("ix_handoffs_created_at", ["created_at"], unique=False)

    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index("ix_work_orders_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_work_orders_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_updated_at")
        batch_op.drop_index("ix_work_orders_created_at")

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_created_at")

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_created_at")

    with op.batch_alter_table("insight_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insight_decisions_alert_id"))

    op.drop_table("insight_decisions")
    op.drop_table("report_daily")
    with op.batch_alter_table("report_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_conversations_day"))

    op.drop_table("report_conversations")
    with op.batch_alter_table("insight_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insight_alerts_status"))
        batch_op.drop_index(batch_op.f("ix_insight_alerts_raised_on"))

    op.drop_table("insight_alerts")
