"""reports: a channel dimension in the daily rollups, their grains, and an index by metric,
grain and day

The rollups are derived data: the table is made again with its new key (empty), and
``python -m bot reports rebuild`` fills it from the raw rows (the backend's refresh alone
recounts only today, yesterday and changed days).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _table(with_channel: bool) -> None:
    keys = ["day", "metric", "model_code", "station_code"]
    keys += ["channel", "key"] if with_channel else ["key"]
    columns = [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("model_code", sa.String(length=30), nullable=False),
        sa.Column("station_code", sa.String(length=10), nullable=False),
    ]
    if with_channel:
        columns.append(sa.Column("channel", sa.String(length=20), nullable=False))
    columns.append(sa.Column("key", sa.String(length=40), nullable=False))
    if with_channel:
        columns.append(sa.Column("grain", sa.String(length=3), nullable=False))
    columns.append(sa.Column("value", sa.Integer(), nullable=False))
    op.create_table(
        "report_daily", *columns, sa.PrimaryKeyConstraint(*keys, name=op.f("pk_report_daily"))
    )


def upgrade() -> None:
    op.drop_table("report_daily")
    _table(with_channel=True)
    op.create_index("ix_report_daily_metric_grain_day", "report_daily", ["metric", "grain", "day"])
    for name, column in (("model", "model_code"), ("station", "station_code")):
        op.create_index(
            f"ix_report_daily_metric_grain_{name}",
            "report_daily",
            ["metric", "grain", column, "day"],
        )


def downgrade() -> None:
    for name in ("day", "model", "station"):
        op.drop_index(f"ix_report_daily_metric_grain_{name}", table_name="report_daily")
    op.drop_table("report_daily")
    _table(with_channel=False)
