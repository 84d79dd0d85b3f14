"""agent ratings: the customer's one-tap score for the agent who held a handoff

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_ratings",
        sa.Column("handoff_id", sa.String(length=15), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name=op.f("fk_agent_ratings_handoff_id_handoffs")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_agent_ratings_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("handoff_id", name=op.f("pk_agent_ratings")),
    )
    with op.batch_alter_table("agent_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_ratings_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agent_ratings_rated_at"), ["rated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_ratings_rated_at"))
        batch_op.drop_index(batch_op.f("ix_agent_ratings_staff_id"))
    op.drop_table("agent_ratings")
