"""desk routing: team membership, agents on duty, and each handoff's team and response
times (for the SLA timers)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_team_members",
        sa.Column("team_code", sa.String(length=20), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_desk_team_members_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("team_code", "staff_id", name=op.f("pk_desk_team_members")),
    )
    op.create_table(
        "desk_duty",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_desk_duty_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_desk_duty")),
    )
    op.create_table(
        "desk_routing",
        sa.Column("handoff_id", sa.String(length=15), nullable=False),
        sa.Column("team_code", sa.String(length=20), nullable=True),
        sa.Column("first_response_at", sa.DateTime(), nullable=True),
        sa.Column("last_agent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name=op.f("fk_desk_routing_handoff_id_handoffs")
        ),
        sa.PrimaryKeyConstraint("handoff_id", name=op.f("pk_desk_routing")),
    )
    with op.batch_alter_table("desk_routing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_routing_team_code"), ["team_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_routing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_routing_team_code"))
    op.drop_table("desk_routing")
    op.drop_table("desk_duty")
    op.drop_table("desk_team_members")
