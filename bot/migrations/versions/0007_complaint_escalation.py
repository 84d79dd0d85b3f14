"""complaint escalation: level, owner, due time and steps of a complaint; complaint notices

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:20:00
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("level", sa.String(length=12), server_default="agent", nullable=False)
        )
        batch_op.add_column(sa.Column("owner", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_complaints_due_at"), ["due_at"], unique=False)

    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.String(length=15), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_events_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_events")),
    )
    with op.batch_alter_table("complaint_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complaint_events_complaint_id"), ["complaint_id"], unique=False
        )

    _due_times_of_open_complaints()

    # A complaint's notices travel through the outbox too: the order becomes optional.
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("work_order_id", existing_type=sa.String(length=15), nullable=True)
        batch_op.add_column(sa.Column("complaint_id", sa.String(length=15), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_complaint_id_complaints"),
            "complaints",
            ["complaint_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            "uq_notifications_complaint_event_round", ["complaint_id", "event", "round"]
        )


def _due_times_of_open_complaints() -> None:
    """Complaints still open get the due time they would have had (the default hours: 24, or 4
    for serious ones), so that the escalation scan sees them too."""
    complaints = sa.table(
        "complaints",
        sa.column("id", sa.String),
        sa.column("severity", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("due_at", sa.DateTime),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(complaints.c.id, complaints.c.severity, complaints.c.created_at).where(
            complaints.c.status.in_(("open", "in_progress"))
        )
    ).all()
    for row in rows:
        hours = 4 if row.severity in ("high", "critical") else 24
        bind.execute(
            complaints.update()
            .where(complaints.c.id == row.id)
            .values(due_at=row.created_at + timedelta(hours=hours))
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("uq_notifications_complaint_event_round", type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_complaint_id_complaints"), type_="foreignkey"
        )
        batch_op.drop_column("complaint_id")
        batch_op.alter_column("work_order_id", existing_type=sa.String(length=15), nullable=False)
    with op.batch_alter_table("complaint_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_events_complaint_id"))
    op.drop_table("complaint_events")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_due_at"))
        for column in ("closed_at", "reviewed_by", "due_at", "owner", "level"):
            batch_op.drop_column(column)
